"""Incremental label records: one JSON line per document, appended and flushed as each label arrives.

A run appends to a new part file `parts/part-NNNNN.jsonl`; a killed run leaves at most one truncated
last line, which the next run ignores (and that document is labelled again). Reading the parts gives
one record per document id (the first complete one), so a resumed run labels exactly the documents
that are missing: none twice, none lost. `run.json` fingerprints what produced the records (backend,
model, prompt hash, budget, sample); a resume with different settings is refused, or (on_change=
"restart") the old records are moved to superseded/<time>/ and the run starts over.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from definemed import io
from definemed.errors import DefinemedError


INVALID_MARK = "too_many_invalid.json"
"""Written when a run stopped on too many invalid replies: the next run asks those documents again."""


@dataclass
class Record:
    """One labelled document. label: 1 medical, 0 not, -1 invalid (no decision)."""

    id: str
    label: int
    prob: float | None
    raw: str
    backend: str
    latency_s: float
    status: str = "ok"
    """ok | invalid (answered, no label word) | empty (nothing to label) | failed (no answer after retries)."""
    attempts: int = 1
    notes: list[str] = field(default_factory=list)


class RecordStore:
    """Append-only JSON-lines parts under `root/parts`, with a fingerprint file `root/run.json`."""

    def __init__(self, root: str | Path, fingerprint: dict, flush_every: int = 1024, on_change: str = "refuse"):
        self.root = Path(root)
        self.parts = self.root / "parts"
        self.fingerprint = fingerprint
        self.flush_every = flush_every
        self._fh = None
        self._since_sync = 0
        self._check_fingerprint(on_change)

    def _check_fingerprint(self, on_change: str) -> None:
        """Existing records made with other settings: refuse, or move them to superseded/ and restart."""
        f = self.root / "run.json"
        if not (f.exists() and any(self.parts.glob("part-*.jsonl"))):
            return
        old = io.read_json(f)
        diff = sorted(k for k in set(old) | set(self.fingerprint) if old.get(k) != self.fingerprint.get(k))
        if not diff:
            return
        if on_change != "restart":
            raise DefinemedError(
                f"{f}: existing partial labels were made with different settings ({', '.join(diff)}); "
                "rerun with --force to start over")
        dest = self.root / "superseded" / time.strftime("%Y%m%d-%H%M%S")
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("parts", "run.json", "labels.parquet", "summary.json", INVALID_MARK):
            if (self.root / name).exists():
                os.replace(self.root / name, dest / name)
        warnings.warn(f"{f}: settings changed ({', '.join(diff)}); earlier labels moved to {dest}, starting over",
                      stacklevel=2)

    # ---- reading ---------------------------------------------------------------------------
    def iter_records(self) -> Iterator[dict]:
        for part in sorted(self.parts.glob("part-*.jsonl")):
            with part.open("rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        break  # a killed writer's last, incomplete line
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        raise DefinemedError(f"{part}: corrupt record line (not the last line)") from None

    def done(self, retry_invalid: bool = False) -> dict[str, dict]:
        """id -> record: the first complete record per id, a labelled one before an invalid one.

        Failed records (no answer) never count as done; invalid ones (answered, no label) do not
        either when `retry_invalid` (the previous run stopped on too many invalid replies).
        """
        out: dict[str, dict] = {}
        for r in self.iter_records():
            st = r["status"]
            if st == "failed" or (retry_invalid and st == "invalid"):
                continue
            prev = out.get(r["id"])
            if prev is None or (prev["status"] == "invalid" and st != "invalid"):
                out[r["id"]] = r
        return out

    # ---- writing ---------------------------------------------------------------------------
    def open(self) -> "RecordStore":
        self.parts.mkdir(parents=True, exist_ok=True)
        io.write_json(self.root / "run.json", self.fingerprint)
        existing = sorted(self.parts.glob("part-*.jsonl"))
        n = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        self._path = self.parts / f"part-{n:05d}.jsonl"
        self._fh = self._path.open("ab", buffering=0)
        return self

    def append(self, rec: Record) -> None:
        # One unbuffered write per complete line: once it returns, the record survives a killed
        # process (it is in the OS page cache); a kill can cut only this line, which readers skip.
        # fsync every `flush_every` records guards against a machine crash as well.
        self._fh.write((json.dumps(vars(rec), ensure_ascii=False) + "\n").encode("utf-8"))
        self._since_sync += 1
        if self._since_sync >= self.flush_every:
            os.fsync(self._fh.fileno())
            self._since_sync = 0

    def close(self) -> None:
        if self._fh is None:
            return
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        if self._path.stat().st_size == 0:
            self._path.unlink()  # nothing labelled in this run: leave no empty part behind
        if not any(self.parts.glob("part-*.jsonl")):
            (self.root / "run.json").unlink(missing_ok=True)
            self.parts.rmdir()

    def __enter__(self) -> "RecordStore":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()
