"""The one front door of every stage: `run_stage(stage, profile)` loads and validates the config, runs
the stage through the stage contract (`definemed.stages.run`: computes, resumes or loads it) and
writes its manifest. `python -m definemed run`, the stage aliases (`corpus`, `label`, `classify`,
`filter`, `cpt`, `evaluate`, ...) and the notebooks (through `stages.run` and `notebooks.run_notebook`)
all end here; stage packages import it from this module, never from the command line module above them.
"""
from __future__ import annotations


def run_stage(stage: str, profile: str, overrides: dict | None = None, force: bool = False) -> dict:
    """Load the config (with `overrides`, None values dropped), run the stage (or load it) and write its
    manifest; the stage's record."""
    from definemed import stages
    from definemed.config import load_config
    from definemed.manifest import write_manifest

    cfg = load_config(profile, overrides={k: v for k, v in (overrides or {}).items() if v is not None} or None)
    rec = stages.run(cfg, stage, force=force)
    write_manifest(cfg, stage)
    return rec
