"""Which tables and figures each stage's notebook presents: recorded as they are written.

`definemed run-notebook STAGE` sets DEFINEMED_STAGE for the kernel it starts; `tables.write_table`
and `plotting.save_figure` then append the name to build/<profile>/presented/<stage>.jsonl, and the
runner copies the list into the stage's manifest (`notebook.tables`, `notebook.figures`). The report
files every table and figure under the stage whose manifest lists it, not by guessing from names.
Outside such a run (a student's JupyterLab, tests) nothing is recorded.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from definemed import paths

ENV = "DEFINEMED_STAGE"


def log_file(profile: str, stage: str) -> Path:
    return paths.build_dir(profile) / "presented" / f"{stage}.jsonl"


def record(kind: str, name: str, profile: str) -> None:
    stage = os.environ.get(ENV)
    if not stage:
        return
    f = log_file(profile, stage)
    f.parent.mkdir(parents=True, exist_ok=True)
    with open(f, "a", encoding="utf-8") as fh:  # one short line per write: appends do not interleave
        fh.write(json.dumps({"kind": kind, "name": name}) + "\n")


def start(profile: str, stage: str) -> None:
    """Before a notebook runs: forget what an earlier execution presented."""
    log_file(profile, stage).unlink(missing_ok=True)


def collected(profile: str, stage: str) -> dict[str, list[str]]:
    """{'tables': [...], 'figures': [...]} in the order the notebook wrote them (each name once)."""
    out: dict[str, list[str]] = {"tables": [], "figures": []}
    f = log_file(profile, stage)
    if f.is_file():
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            key = "tables" if r["kind"] == "table" else "figures"
            if r["name"] not in out[key]:
                out[key].append(r["name"])
    return out
