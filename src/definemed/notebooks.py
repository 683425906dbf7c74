"""Run a numbered notebook with papermill and write its stage manifest; and the Make rules that decide,
by content, which notebooks `make reproduce` must run.

The notebook runs its stage through `definemed.stages.run` (which computes, or loads a done stage)
and then shows it. The executed notebook goes to build/<profile>/notebooks/<notebook>.ipynb through a
temporary name (never over the source); the manifest is written only when the notebook ran to the
end. When the stage is done and neither the notebook nor the code it shows with changed since the
last execution, nothing runs: the manifest is only touched.

Make compares file times, and after `git clone` (or a `touch`) file times say nothing. So Make never
compares a stage's manifest with the source files themselves but with a content stamp:

    python -m definemed.notebooks make-rules --profile tiny     # run by the Makefile on every make

writes build/<profile>/stamps/<stage>.sha (a hash of the stage's config sections and seed, its code,
its notebook source and the code the notebook shows with; the same closure `definemed.stages`
fingerprints), build/<profile>/stamps/report.sha and build/stamps/notebooks/<notebook>.sha (the
notebook's percent-format source and scripts/py2nb.py), each rewritten only when its content changes,
and build/<profile>/deps.mk, the rules that tie the manifests to those stamps. A touched but unchanged
file changes no stamp, so `make -n reproduce` lists nothing; an edited one reruns its stage and the
stages after it (whose runners then decide by fingerprint whether anything needs computing).

The kernel runs in a process group of its own (jupyter_client); when this process is stopped
(Ctrl-C, SIGTERM, an error) papermill shuts the kernel down, and the command line, a child subreaper,
stops whatever the kernel started before it exits (definemed.procs, definemed.cli.main).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from definemed import artifacts, io, paths, presented, progress, stages
from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.io import atomic_path
from definemed.manifest import write_manifest

notebook_name = artifacts.notebook_name


def notebook_source(stage: str) -> Path:
    return paths.NOTEBOOKS / "src" / f"{notebook_name(stage)}.py"


def notebook_path(stage: str) -> Path:
    nb = paths.NOTEBOOKS / f"{notebook_name(stage)}.ipynb"
    if not nb.is_file():
        raise DefinemedError(f"{nb}: no such notebook")
    return nb


def _up_to_date(cfg, stage: str, out: Path, digest: str) -> bool:
    man = artifacts.manifest_file(cfg, stage)
    if not (man.is_file() and out.is_file() and stages.is_done(cfg, stage)):
        return False
    m = io.read_json(man)
    rec = stages.read_record(cfg, stage)
    return m.get("fingerprint") == rec["fingerprint"] and (m.get("notebook") or {}).get("digest") == digest


def _kernel_config():
    """The kernel talks to papermill over Unix sockets (IPC), not TCP on localhost: nothing listens on
    a port, and ipykernel has no reason for its "Kernel is running over TCP without encryption" warning."""
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc"}})


def _keep_kernelspec(src: Path, executed: Path) -> None:
    """The executed copy names the source's kernel ("DeFineMed (.venv)"), not the one papermill ran it
    with, so it opens in JupyterLab with the project's kernel."""
    import nbformat

    ks = nbformat.read(src, as_version=4).metadata.get("kernelspec")
    out = nbformat.read(executed, as_version=4)
    if ks and out.metadata.get("kernelspec") != ks:
        out.metadata["kernelspec"] = ks
        nbformat.write(out, executed)


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(paths.ROOT))
    except ValueError:
        return str(p)


def run_notebook(stage: str, profile: str = "tiny", kernel_name: str = "python3", force: bool = False) -> Path:
    import papermill as pm

    cfg = load_config(profile)  # validate before starting a kernel
    nb = notebook_path(stage)
    stages.fingerprint(cfg, stage)  # fails early, in one line, when an upstream stage is not done
    out = paths.build_dir(cfg.profile) / "notebooks" / nb.name
    digest = stages.presentation_digest(stage)
    if not force and _up_to_date(cfg, stage, out, digest):
        os.utime(artifacts.manifest_file(cfg, stage))
        print(f"{stage}: up to date (stage done, notebook unchanged)")
        return out
    t0 = time.time()
    failed = out.with_suffix(".failed.ipynb")  # the executed copy of a failed run, kept until the next run
    failed.unlink(missing_ok=True)
    presented.start(cfg.profile, stage)
    log = out.with_suffix(".progress.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    # the kernel inherits these: write_table / save_figure record their names; bars write lines to `log`
    env = {presented.ENV: stage, progress.LOG_ENV: str(log)}
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with atomic_path(out, suffix=".ipynb") as tmp:
            print(f"[{progress.clock()}] {stage}: executing {_rel(nb)} -> {_rel(out)} (written there when it "
                  f"ends; progress lines below, cells on the bar)", file=sys.stderr, flush=True)
            try:
                with progress.follow(log, prefix=f"  {stage}: "):
                    pm.execute_notebook(
                        str(nb), str(tmp), parameters={"profile": profile}, kernel_name=kernel_name,
                        cwd=str(paths.NOTEBOOKS), progress_bar={"desc": f"  {nb.name} cells", "leave": False},
                        log_output=False, config=_kernel_config(),
                    )
                _keep_kernelspec(nb, Path(tmp))
            except KeyboardInterrupt:  # Ctrl-C / SIGTERM (definemed.errors.Terminated)
                # nbclient's cell task still holds the interrupt; at exit asyncio would log it as "Task
                # exception was never retrieved" with 150 lines of traceback after our one-line message
                logging.getLogger("asyncio").setLevel(logging.CRITICAL)
                raise
            except pm.PapermillExecutionError as e:
                if e.ename == "LockedError":  # a refusal (another run holds the stage): nothing to look at
                    raise DefinemedError(e.evalue) from None
                Path(tmp).replace(failed)
                raise DefinemedError(
                    f"{nb.name}: cell {e.exec_count} raised {e.ename}: {e.evalue} (executed copy: {failed})"
                ) from None
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if not stages.is_done(cfg, stage):
        raise DefinemedError(f"{nb.name}: ran to the end but stage {stage} is not done "
                             "(the notebook must call definemed.stages.run)")
    rel = out.relative_to(paths.build_dir(cfg.profile).parent.parent)
    wall = round(time.time() - t0, 2)
    write_manifest(cfg, stage, notebook={"path": str(rel), "digest": digest, "wall_time_s": wall,
                                         **presented.collected(cfg.profile, stage)})
    print(f"[{progress.clock()}] {stage}: executed in {wall:.0f} s -> {_rel(out)}", file=sys.stderr, flush=True)
    return out


# ---- Make rules by content --------------------------------------------------------------------
PY2NB = paths.ROOT / "scripts" / "py2nb.py"
REPORT_MODULES = ("definemed.report.build", "definemed.report.results", "definemed.report.prose",
                  "definemed.report.claims", "definemed.modelcard")
"""What `python -m definemed report` runs, besides each stage's `report` module (imported by name)."""


def _files_digest(files) -> str:
    h = hashlib.sha256()
    for f in sorted(set(files)):
        h.update(_rel(f).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest() if f.is_file() else b"missing")
    return h.hexdigest()


def _json_digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def stage_stamp(cfg, stage: str) -> dict:
    """What a stage's notebook run depends on, by content: {"config", "code", "notebook"} digests."""
    s = artifacts.spec(stage)
    dump = cfg.model_dump(mode="json")
    shown = [f for f in stages.presentation_files(stage) if f.suffix != ".ipynb"]
    nb = [notebook_source(stage), PY2NB] if s.notebook else []
    return {"stage": stage, "config": _json_digest({"seed": cfg.seed, **{k: dump[k] for k in s.sections}}),
            "code": _files_digest(stages.compute_files(stage)), "notebook": _files_digest(shown + nb)}


def report_stamp(cfg) -> dict:
    mods = [*REPORT_MODULES, *(f"definemed.{s.package}.report" for s in artifacts.STAGES.values())]
    return {"stage": artifacts.REPORT, "config": _json_digest(cfg.model_dump(mode="json")),
            "code": _files_digest([*stages.code_closure(*mods), paths.PAPER_REPORTED])}


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that (its file time then stays)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    io.write_text(path, text)
    return True


def stamp_dir(profile: str) -> Path:
    """build/<profile>/stamps in the repository (where the Makefile looks, whatever the output root)."""
    return paths.ROOT / "build" / paths.check_profile(profile) / "stamps"


NOTEBOOK_STAMPS = paths.ROOT / "build" / "stamps" / "notebooks"


def make_rules(profile: str) -> str:
    """Write the content stamps of `profile` (only those whose content changed) and return the Make
    rules that tie each stage's manifest to its stamp and to the manifests of the stages it reads."""
    cfg = load_config(profile)
    sd = stamp_dir(cfg.profile)
    rel = lambda p: p.relative_to(paths.ROOT).as_posix()  # noqa: E731
    lines = [f"# Generated by `python -m definemed.notebooks make-rules --profile {cfg.profile}`: do not edit."]
    for stage, s in artifacts.STAGES.items():
        stamp = sd / f"{stage}.sha"
        write_if_changed(stamp, json.dumps(stage_stamp(cfg, stage), indent=1, sort_keys=True) + "\n")
        ups = " ".join(f"$(M)/{u}.json" for u in s.reads)
        if s.notebook:
            name = notebook_name(stage)
            nb_stamp = NOTEBOOK_STAMPS / f"{name}.sha"
            write_if_changed(nb_stamp, _files_digest([notebook_source(stage), PY2NB]) + "\n")
            lines += [f"$(M)/{stage}.json: {rel(stamp)} {ups} | notebooks/{name}.ipynb",
                      f"notebooks/{name}.ipynb: {rel(nb_stamp)}"]
        else:
            lines.append(f"$(M)/{stage}.json: {rel(stamp)} {ups}".rstrip())
    stamp = sd / "report.sha"
    write_if_changed(stamp, json.dumps(report_stamp(cfg), indent=1, sort_keys=True) + "\n")
    lines.append(f"$(REPORT): {rel(stamp)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m definemed.notebooks", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    mr = sub.add_parser("make-rules", help="write the content stamps and print (or --out) the Make rules")
    mr.add_argument("--profile", default="tiny")
    mr.add_argument("--out", type=Path, help="write the rules here (only when they changed)")
    args = ap.parse_args(argv)
    try:
        rules = make_rules(args.profile)
    except DefinemedError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    if args.out:
        write_if_changed(args.out if args.out.is_absolute() else Path.cwd() / args.out, rules)
    else:
        sys.stdout.write(rules)


if __name__ == "__main__":
    main()
