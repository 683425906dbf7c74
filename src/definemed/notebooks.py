"""Run a numbered notebook with papermill and write its stage manifest.

The notebook runs its stage through `definemed.stages.run` (which computes, or loads a done stage)
and then shows it. The executed notebook goes to build/<profile>/notebooks/<stage>.ipynb through a
temporary name (never over the source); the manifest is written only when the notebook ran to the
end. When the stage is done and neither the notebook nor the code it shows with changed since the
last execution, nothing runs: the manifest is only touched (Make compares file times, we compare
content).

The kernel runs in a process group of its own (jupyter_client); when this process is stopped
(Ctrl-C, SIGTERM, an error) papermill shuts the kernel down, and the command line, a child subreaper,
stops whatever the kernel started before it exits (definemed.procs, definemed.cli.main).
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from definemed import artifacts, io, paths, presented, stages
from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.io import atomic_path
from definemed.manifest import write_manifest


def notebook_path(stage: str) -> Path:
    nb = paths.NOTEBOOKS / f"{stage}.ipynb"
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
    previous = os.environ.get(presented.ENV)
    os.environ[presented.ENV] = stage  # the kernel inherits it: write_table / save_figure record their names
    try:
        with atomic_path(out, suffix=".ipynb") as tmp:
            try:
                pm.execute_notebook(
                    str(nb), str(tmp), parameters={"profile": profile}, kernel_name=kernel_name,
                    cwd=str(paths.NOTEBOOKS), progress_bar=False, log_output=False,
                )
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
        if previous is None:
            os.environ.pop(presented.ENV, None)
        else:
            os.environ[presented.ENV] = previous
    if not stages.is_done(cfg, stage):
        raise DefinemedError(f"{nb.name}: ran to the end but stage {stage} is not done "
                             "(the notebook must call definemed.stages.run)")
    rel = out.relative_to(paths.build_dir(cfg.profile).parent.parent)
    write_manifest(cfg, stage, notebook={"path": str(rel), "digest": digest,
                                         "wall_time_s": round(time.time() - t0, 2),
                                         **presented.collected(cfg.profile, stage)})
    return out
