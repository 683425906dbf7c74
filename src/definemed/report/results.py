"""The results file: every number the prose states (README, docs' "measured" sections, the claims
table), collected from the stage outputs, never typed.

    values = collect(cfg)        # {"label.f1": 0.928, "cpt.<model>.ppl_medical_after": 1.65, ...}
    write(cfg)                   # build/<p>/results.json and results/<p>.json (committed for tiny)

The committed copy holds what the prose states: the profile, seed, which stages were done and their
values. The stages' fingerprints (which change with every edit of their code, even when no number
does) stay in build/<p>/results.json, and results/<p>.json is rewritten only when its content
changes, so `make reproduce` on an unchanged checkout leaves `git status` clean.

Keys are dotted names; model names come from the config, so a retuned model or a new one changes the
values, not the code. A stage that has not run contributes no keys (the renderers say "not run").
Each stage's `report.results(cfg)` returns its keys (from its own output files). Each block of generated prose (`definemed.report.prose`) and the claims table
(`definemed.report.claims`) read only this dict.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from definemed import artifacts, io, paths, stages
from definemed.config import Config

RESULTS_DIR = paths.ROOT / "results"


def results_file(profile: str) -> Path:
    """results/<profile>.json: the committed copy the README and docs are checked against."""
    return RESULTS_DIR / f"{profile}.json"


def _done(cfg: Config, stage: str) -> bool:
    rec = stages.read_record(cfg, stage)
    return rec is not None and stages.outputs_present(cfg, stage, rec)


def number(x) -> float | int | None:
    """A JSON-safe number (numpy scalars to Python, NaN to None)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return None if np.isnan(x) else x

def collect(cfg: Config, upto: str | None = None) -> dict:
    """{"profile", "seed", "stages": {stage: fingerprint}, "values": {key: number|str}}
    from every done stage (up to and including `upto`)."""
    values: dict = {}
    done, missing = {}, {}
    for stage in artifacts.ORDER:
        if _done(cfg, stage):
            try:
                # each stage's report module states its headline numbers; imported by name, so a
                # notebook that shows the results does not depend on every stage's code
                part = importlib.import_module(f"definemed.{artifacts.spec(stage).package}.report").results(cfg)
            except (FileNotFoundError, KeyError) as e:  # a stage registered without its usual files
                missing[stage] = f"{type(e).__name__}: {e}"
            else:
                values.update(part)
                done[stage] = stages.read_record(cfg, stage)["fingerprint"]
        if stage == upto:
            break
    values = {k: (round(x, 6) if isinstance(x, float) else x) for k, x in sorted(values.items())}
    out = {"profile": cfg.profile, "seed": cfg.seed, "stages": done, "values": values}
    return out | ({"incomplete": missing} if missing else {})


def in_repo(profile: str) -> bool:
    """True when outputs go to the repository (not a test's DEFINEMED_OUTPUT_ROOT): only then are the
    committed results file and the generated prose rewritten."""
    return paths.data_dir(profile).parent.parent == paths.ROOT


def committed(res: dict) -> dict:
    """The committed form of a results dict: the fingerprints replaced by the list of done stages."""
    return res | {"stages": [s for s in artifacts.ORDER if s in res["stages"]]}


def write(cfg: Config) -> Path:
    """build/<p>/results.json and its committed copy results/<p>.json (only when every stage is done,
    and only when its content changed)."""
    res = collect(cfg)
    out = io.write_json(paths.build_dir(cfg.profile) / "results.json", res)
    if in_repo(cfg.profile) and set(res["stages"]) == set(artifacts.ORDER):
        publish(res, results_file(cfg.profile))
    return out


def publish(res: dict, f: Path) -> bool:
    """Write the committed form of `res` to `f` unless `f` already says the same; True if written."""
    new = committed(res)
    try:
        if json.loads(f.read_text(encoding="utf-8")) == new:
            return False
    except (OSError, ValueError):
        pass
    io.write_json(f, new)
    return True


def load(profile: str, path: Path | None = None) -> dict:
    f = path or results_file(profile)
    return json.loads(f.read_text(encoding="utf-8"))
