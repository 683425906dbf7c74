"""The one object a stage's `run(ctx)` gets: its config, its declared files and one resume primitive.

    def run(ctx) -> dict:
        for shard in ctx.input(artifacts.CORPUS, "shards").glob("*.parquet"):
            with ctx.unit(shard.stem, inputs=[shard]) as u:
                if u.done:
                    continue
                score(shard, ctx.out("scores") / shard.name)   # leaving the block marks the unit done
        return counts

- `ctx.cfg`: the validated profile (`ctx.seed`, `ctx.profile`, `ctx.label`, ... also work, so code
  written for `run(cfg)` keeps working when handed a context).
- `ctx.out(key, **fields)`: a file or folder this stage declares in `artifacts.OUTPUTS`.
- `ctx.input(stage, key, **fields)`: a declared output of a stage this one reads
  (`artifacts.STAGES[...].reads`): the only way to reach another stage's files
  (`ctx.input_stage(stage)` gives the folder, for readers that take it whole).
- `ctx.unit(key, inputs=...)`: a resumable piece (a shard, a model, a variant, a label batch). It is
  done when its marker exists under the same stage work key (`stages.work_key`, so an `adopt`ed change
  keeps it) and the same inputs (paths by content size and name, or any JSON-able value). Leaving the
  block normally writes the marker; an exception leaves none, so a rerun does the unit again.
  Markers live in `<stage>/_units/` (bookkeeping, not outputs).
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from definemed import artifacts, io
from definemed.errors import DefinemedError

UNITS = "_units"
FINGERPRINT_FILE = ".fingerprint"
"""The stage folder's marker: which fingerprint its work belongs to (written by `stages.open_stage`)."""


def read_marker(cfg, stage: str) -> dict | None:
    """{fingerprint, work_base, parts, code_files} of the stage folder, None when it has none.
    `work_base` is the fingerprint the folder's resumable work was started under; `adopt` moves the
    fingerprint on and keeps the base, so accepted changes never orphan that work."""
    f = artifacts.stage_dir(cfg, stage) / FINGERPRINT_FILE
    if not f.is_file():
        return None
    text = f.read_text(encoding="utf-8").strip()
    try:
        m = json.loads(text)
    except ValueError:
        m = None
    if not isinstance(m, dict):  # the plain-text marker of earlier versions
        return {"fingerprint": text, "work_base": text, "parts": None, "code_files": None}
    return m


def work_key(cfg, stage: str, *parts) -> str:
    """Key of resumable work inside a stage folder (token files, checkpoints, per-model results): the
    fingerprint the stage folder's work started under (kept by `adopt`), plus `parts`. When a stage
    function is called directly (tests, tools) there is no marker and the key rests on `parts` alone."""
    marker = read_marker(cfg, stage)
    base = marker["work_base"] if marker else "unmanaged"
    return hashlib.sha256(json.dumps([base, *parts], sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Unit:
    key: str
    marker: Path
    digest: str
    done: bool


def _describe(value: Any) -> Any:
    """Inputs as JSON: a path by its name, size and (for a folder) its files' names and sizes."""
    if isinstance(value, Path):
        if value.is_file():
            return [value.name, value.stat().st_size]
        if value.is_dir():
            return [value.name, sorted([f.relative_to(value).as_posix(), f.stat().st_size]
                                       for f in value.rglob("*") if f.is_file())]
        return [value.name, None]
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    return value


class StageContext:
    """What the runner hands a stage (`definemed.stages.run`): see the module docstring."""

    def __init__(self, cfg, stage: str):
        self.cfg = cfg
        self.stage = stage
        self.spec = artifacts.spec(stage)

    def __getattr__(self, name: str):  # ctx.seed, ctx.profile, ctx.label, ...: the config's fields
        if name in ("cfg", "stage", "spec"):
            raise AttributeError(name)
        return getattr(self.cfg, name)

    @property
    def dir(self) -> Path:
        """The stage's own folder (scratch work that is not a declared output goes here)."""
        return artifacts.stage_dir(self.cfg, self.stage)

    def out(self, key: str, /, **fields) -> Path:
        return artifacts.output(self.cfg, self.stage, key, **fields)

    def input(self, stage: str, key: str, /, **fields) -> Path:
        if stage not in self.spec.reads:
            raise DefinemedError(f"stage {self.stage} reads {stage}'s '{key}', but its entry in artifacts.STAGES "
                                 f"does not list {stage} among the stages it reads")
        return artifacts.output(self.cfg, stage, key, **fields)

    def input_stage(self, stage: str) -> Path:
        """The folder of a stage this one reads, for helpers that take it whole (a corpus reader)."""
        if stage not in self.spec.reads:
            raise DefinemedError(f"stage {self.stage} reads {stage}'s folder, but its entry in artifacts.STAGES "
                                 f"does not list {stage} among the stages it reads")
        return artifacts.stage_dir(self.cfg, stage)

    @contextmanager
    def unit(self, key: str, inputs: Any = None) -> Iterator[Unit]:
        digest = work_key(self.cfg, self.stage, key, _describe(inputs))
        safe = hashlib.sha256(key.encode()).hexdigest()[:12]
        marker = self.dir / UNITS / f"{safe}.json"
        done = False
        if marker.is_file():
            try:
                done = io.read_json(marker).get("digest") == digest
            except ValueError:
                done = False
        u = Unit(key, marker, digest, done)
        yield u
        if not u.done:
            io.write_json(marker, {"key": key, "digest": digest})
            u.done = True


def unit_count(cfg, stage: str) -> int:
    """Units finished in a stage folder (for progress lines and tests)."""
    d = artifacts.stage_dir(cfg, stage) / UNITS
    return sum(1 for f in d.glob("*.json")) if d.is_dir() else 0


__all__ = ["FINGERPRINT_FILE", "StageContext", "Unit", "UNITS", "read_marker", "unit_count", "work_key"]
