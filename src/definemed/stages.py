"""The stage contract: one way to run, cache and rebuild every stage.

    record = stages.run(cfg, artifacts.FILTER)   # computes, or loads when already done

A stage is done when `data/<p>/<stage>/_stage.json` exists, its fingerprint equals the current one
and the outputs it lists are on disk with their recorded sizes. The fingerprint is a hash of
- the stage's config sections and the seed,
- the content of its code: every `definemed` module its `stage` module imports (transitively) and the
  package's data files, plus any files outside src/ it declares (prompts),
- the content digests of the outputs of the stages it reads (their `_stage.json`).
No path, file time or host enters it, so copying or moving the output tree keeps every stage done.

When the fingerprint changes, the stage's folder is cleared before it runs again (its old outputs
describe other inputs); partial work under the same fingerprint is resumed by the stage itself. The
same modules' import closure gives the Make prerequisites (`python -m definemed deps`).
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import json
import shutil
import time
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path

from definemed import artifacts, io, paths
from definemed.errors import DefinemedError
from definemed.lock import output_lock

SRC = paths.ROOT / "src"
FINGERPRINT_FILE = ".fingerprint"


# ---- code closure ---------------------------------------------------------------------------
def _module_file(module: str) -> Path | None:
    p = SRC.joinpath(*module.split("."))
    if (p / "__init__.py").is_file():
        return p / "__init__.py"
    return p.with_suffix(".py") if p.with_suffix(".py").is_file() else None


@lru_cache(maxsize=None)
def _imports(file: Path) -> frozenset[str]:
    """`definemed` modules a file imports anywhere (top level or inside functions)."""
    rel = file.relative_to(SRC).with_suffix("")
    package = ".".join(rel.parts if file.name == "__init__.py" else rel.parts[:-1]).removesuffix(".__init__")
    out: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return frozenset(m for m in out if m == "definemed" or m.startswith("definemed."))


def code_closure(*modules: str) -> list[Path]:
    """Source files of `modules` and of every definemed module they import, transitively, plus the
    data files (templates, word lists, task YAML) of each package they touch."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        f = _module_file(mod)
        if f is None or f in seen:
            continue
        seen.add(f)
        parts = mod.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parents run their __init__
        todo.extend(_imports(f))
    data = {d for f in seen for d in f.parent.rglob("*")
            if d.is_file() and d.suffix not in (".py", ".pyc") and "__pycache__" not in d.parts
            and f.parent != SRC / "definemed"}
    return sorted(seen | data)


def notebook_modules(stage: str) -> list[str]:
    """definemed modules imported by notebooks/src/<stage>.py (the notebook's presentation code)."""
    src = paths.NOTEBOOKS / "src" / f"{artifacts.notebook_name(stage)}.py"
    if not src.is_file():
        return []
    out = []
    for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("definemed"):
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("definemed")]
    return out


def compute_files(stage: str) -> list[Path]:
    s = artifacts.spec(stage)
    extra = [f for pattern in s.extra_code for f in sorted(paths.ROOT.glob(pattern)) if f.is_file()]
    return code_closure(f"definemed.{s.package}.stage") + extra


def presentation_files(stage: str) -> list[Path]:
    """What the stage's notebook (or report) shows it with, beyond its computation."""
    nb = [paths.NOTEBOOKS / f"{artifacts.notebook_name(stage)}.ipynb"] if artifacts.spec(stage).notebook else []
    return nb + code_closure(*notebook_modules(stage), f"definemed.{artifacts.spec(stage).package}.report")


def _digest_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(paths.ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def code_digest(stage: str) -> str:
    return _digest_files(compute_files(stage))


def presentation_digest(stage: str) -> str:
    return _digest_files([f for f in presentation_files(stage) if f.is_file()])


# ---- records and fingerprints ---------------------------------------------------------------
def read_record(cfg, stage: str) -> dict | None:
    f = artifacts.record_file(cfg, stage)
    if not f.is_file():
        return None
    try:
        return io.read_json(f)
    except (ValueError, OSError):
        return None  # a damaged record is no record: the stage runs again


def fingerprint(cfg, stage: str, strict: bool = True) -> tuple[str, dict]:
    """(hash, its parts). Raises when a stage this one reads is not done (strict), else counts it as None."""
    s = artifacts.spec(stage)
    inputs = {}
    for up in s.reads:
        rec = read_record(cfg, up)
        if rec is None or not outputs_present(cfg, up, rec):
            if not strict:
                inputs[up] = None
                continue
            raise DefinemedError(f"stage {stage} reads {up}, which is not done "
                                 f"(run `python -m definemed run {up} --profile {cfg.profile}`)")
        inputs[up] = rec["outputs_digest"]
    dump = cfg.model_dump(mode="json")
    parts = {"stage": stage, "seed": cfg.seed, "config": {k: dump[k] for k in s.sections},
             "code": code_digest(stage), "inputs": inputs}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16], parts


def _is_scratch(rel: str, s: artifacts.StageSpec) -> bool:
    return rel in ("_stage.json", FINGERPRINT_FILE) or any(fnmatch(rel, p) for p in s.scratch) \
        or Path(rel).name.startswith(".")


def output_files(cfg, stage: str) -> list[Path]:
    d, s = artifacts.stage_dir(cfg, stage), artifacts.spec(stage)
    return sorted(f for f in d.rglob("*") if f.is_file() and not _is_scratch(f.relative_to(d).as_posix(), s))


def _sha256(f: Path) -> str:
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def outputs_present(cfg, stage: str, rec: dict) -> bool:
    d = artifacts.stage_dir(cfg, stage)
    return all((d / rel).is_file() and (d / rel).stat().st_size == size for rel, (size, _) in rec["outputs"].items())


def is_done(cfg, stage: str) -> bool:
    rec = read_record(cfg, stage)
    if rec is None or not outputs_present(cfg, stage, rec):
        return False
    try:
        return rec["fingerprint"] == fingerprint(cfg, stage)[0]
    except DefinemedError:
        return False


def work_key(cfg, stage: str, *parts) -> str:
    """Key of resumable work inside a stage folder (token files, checkpoints, per-model results): the
    fingerprint the runner recorded when the stage started, plus `parts`. When a stage function is
    called directly (tests, tools) there is no such record and the key rests on `parts` alone."""
    marker = artifacts.stage_dir(cfg, stage) / FINGERPRINT_FILE
    base = marker.read_text().strip() if marker.is_file() else "unmanaged"
    return hashlib.sha256(json.dumps([base, *parts], sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---- running --------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cfg, stage: str, force: bool = False) -> dict:
    """Run `stage` unless it is done; return its record (counts, outputs, fingerprint, wall time)."""
    fp, parts = fingerprint(cfg, stage)
    rec = read_record(cfg, stage)
    if not force and rec and rec.get("fingerprint") == fp and outputs_present(cfg, stage, rec):
        _log(f"{stage}: done (fingerprint {fp}); loading its outputs")
        return rec
    d = artifacts.stage_dir(cfg, stage)
    with output_lock(d, f"stage {stage} (profile {cfg.profile})"):  # a second run refuses, never doubles the work
        return _run_locked(cfg, stage, fp, parts, rec, d, force)


def _run_locked(cfg, stage: str, fp: str, parts: dict, rec: dict | None, d: Path, force: bool) -> dict:
    marker = d / FINGERPRINT_FILE
    previous = marker.read_text().strip() if marker.is_file() else None
    if d.exists() and (force or previous != fp):
        why = "--force" if force else (f"inputs changed (fingerprint {previous} -> {fp})" if previous
                                       else "outputs of unknown provenance")
        hook = getattr(importlib.import_module(f"definemed.{artifacts.spec(stage).package}.stage"), "before_clear", None)
        if hook is not None and not force:
            hook(cfg, why)  # a stage may refuse to lose expensive work (04_cpt's runs)
        _log(f"{stage}: {why}; clearing {d} and running it again")
        shutil.rmtree(d)
    elif previous == fp:
        if rec and rec.get("fingerprint") == fp:  # it had finished, then some outputs changed on disk
            damaged = [d / r for r, (size, _) in rec["outputs"].items()
                       if (d / r).is_file() and (d / r).stat().st_size != size]
            for f in damaged:
                f.unlink()
            _log(f"{stage}: outputs changed since it finished ({len(damaged)} damaged removed); running it again")
        else:
            _log(f"{stage}: resuming unfinished work (fingerprint {fp})")
    d.mkdir(parents=True, exist_ok=True)
    io.write_text(marker, fp + "\n")
    artifacts.record_file(cfg, stage).unlink(missing_ok=True)
    module = importlib.import_module(f"definemed.{artifacts.spec(stage).package}.stage")
    t0 = time.time()
    try:
        counts = module.run(cfg)
    except BaseException:
        if [f.name for f in d.iterdir()] == [FINGERPRINT_FILE]:  # it stopped before writing anything
            shutil.rmtree(d)
        raise
    rec = _write_record(cfg, stage, fp, parts, counts, time.time() - t0)
    _log(f"{stage}: done in {rec['wall_time_s']:.1f} s ({len(rec['outputs'])} output files)")
    return rec


def _write_record(cfg, stage: str, fp: str, parts: dict, counts: dict, wall: float) -> dict:
    d = artifacts.stage_dir(cfg, stage)
    outputs = {f.relative_to(d).as_posix(): [f.stat().st_size, _sha256(f)] for f in output_files(cfg, stage)}
    rec = {"stage": stage, "fingerprint": fp, "fingerprint_parts": parts, "counts": counts, "outputs": outputs,
           "outputs_digest": hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()[:16],
           "wall_time_s": round(wall, 2), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    io.write_json(artifacts.record_file(cfg, stage), rec)
    return rec


def register(cfg, stage: str, counts: dict | None = None) -> dict:
    """Record the files already in a stage's folder as that stage's result under the current
    fingerprint, without running it: for outputs made by other means (tests that build stand-in models,
    a cluster job that ran the stage's own code), so that the stages after it can run. Stages it reads
    that are not done enter its fingerprint as missing."""
    fp, parts = fingerprint(cfg, stage, strict=False)
    d = artifacts.stage_dir(cfg, stage)
    if not d.is_dir():
        raise DefinemedError(f"{d}: nothing to register for stage {stage}")
    io.write_text(d / FINGERPRINT_FILE, fp + "\n")
    return _write_record(cfg, stage, fp, parts, counts or {}, 0.0)


def counts(cfg, stage: str) -> dict:
    """The counts of a done stage (for notebooks that show a stage run elsewhere)."""
    rec = read_record(cfg, stage)
    if rec is None:
        raise DefinemedError(f"{artifacts.record_file(cfg, stage)}: stage {stage} has not run")
    return rec["counts"]


def make_deps(stage: str) -> list[Path]:
    """Files whose change can change what `make` must redo for `stage` (compute and presentation)."""
    return sorted({*compute_files(stage), *presentation_files(stage)}
                  - {paths.NOTEBOOKS / f"{artifacts.notebook_name(stage)}.ipynb"})
