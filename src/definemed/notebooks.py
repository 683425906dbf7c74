"""Run a numbered notebook with papermill and write its stage manifest.

The executed notebook goes to build/<profile>/notebooks/<stage>.ipynb through a temporary name
(never over the source); the manifest is written only when the notebook ran to the end.
"""
from __future__ import annotations

import time
from pathlib import Path

from definemed import paths
from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.io import atomic_path
from definemed.manifest import write_manifest


def notebook_path(stage: str) -> Path:
    nb = paths.NOTEBOOKS / f"{stage}.ipynb"
    if not nb.is_file():
        raise DefinemedError(f"{nb}: no such notebook")
    return nb


def run_notebook(stage: str, profile: str = "tiny", kernel_name: str = "python3") -> Path:
    import papermill as pm

    cfg = load_config(profile)  # validate before starting a kernel
    nb = notebook_path(stage)
    out = paths.build_dir(cfg.profile) / "notebooks" / nb.name
    t0 = time.time()
    with atomic_path(out, suffix=".ipynb") as tmp:
        try:
            pm.execute_notebook(
                str(nb), str(tmp), parameters={"profile": profile}, kernel_name=kernel_name,
                cwd=str(paths.NOTEBOOKS), progress_bar=False, log_output=False,
            )
        except pm.PapermillExecutionError as e:
            failed = out.with_suffix(".failed.ipynb")
            Path(tmp).replace(failed)
            raise DefinemedError(
                f"{nb.name}: cell {e.exec_count} raised {e.ename}: {e.evalue} (executed copy: {failed})"
            ) from None
    write_manifest(cfg, stage, time.time() - t0, extra={"notebook": str(out.relative_to(paths.build_dir(cfg.profile).parent.parent))})
    return out
