"""Judgments persisted as they arrive: a killed judge run loses none and a rerun repeats none.

`06_evaluate/judgments.jsonl` gets one line per finished request, appended and flushed the moment it
comes back (fsync every `fsync_every` lines):
    {"key", "ok", "raw", "error", "judge", "judge_model", "prompt_version", "round", "time"}
`key` is a sha256 of what the judgment depends on (judge, judge model, prompt version, question and
both answers in their positions, and whatever else the judge declares it reads in `key_fields`), so a
changed answer or prompt is judged anew and an unchanged one never twice. A request that still fails
after the client's own retries is written with ok=false and retried in a later round (`rounds`) and
again by a rerun; after the last round it is left invalid (verdict None, counted) instead of aborting
the ~2,600 other judgments. A line cut off by a kill is the last line of the file and is ignored on
reading (it is re-requested).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from definemed import io
from definemed.errors import DefinemedError


def judgment_key(item: dict, judge_name: str, judge_model: str, prompt_version: str,
                 key_fields: tuple[str, ...] = ()) -> str:
    """`key_fields`: what else the judge reads (the rubric judge: entity, gold object, ended flags)."""
    payload = [judge_name, judge_model, prompt_version, item["question"], item["answer_a"], item["answer_b"]]
    payload += [item.get(k) for k in key_fields]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:32]


class JudgmentStore:
    """Append-only JSONL of judge results; `done` maps key -> raw text of successful judgments."""

    def __init__(self, path: str | os.PathLike, fsync_every: int = 16):
        self.path, self.fsync_every = Path(path), fsync_every
        self.done: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self._lock, self._n = threading.Lock(), 0
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        io.drop_partial_line(self.path)  # a line cut off by a kill: dropped, asked again
        data = self.path.read_bytes()
        for i, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DefinemedError(f"{self.path}:{i}: malformed judgment line") from None
            if rec.get("ok"):
                self.done[rec["key"]] = rec["raw"]
                self.failures.pop(rec["key"], None)
            elif rec["key"] not in self.done:
                self.failures[rec["key"]] = rec.get("error", "")

    def record(self, key: str, raw: str | None, error: str | None, meta: dict) -> None:
        rec = {"key": key, "ok": error is None, "raw": raw if error is None else None, "error": error, **meta,
               "time": round(time.time(), 3)}
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                self._n += 1
                if self._n % self.fsync_every == 0:
                    os.fsync(f.fileno())
            if error is None:
                self.done[key] = raw
                self.failures.pop(key, None)
            else:
                self.failures[key] = error


def _run_round(judge, items: list[dict], keys: list[str], store: JudgmentStore, meta: dict) -> None:
    """One pass over the pending items; each result is stored the moment it arrives."""
    if hasattr(judge, "judge_one"):
        workers = max(1, int(getattr(judge, "concurrency", 8)))
        with ThreadPoolExecutor(workers) as ex:
            futs = {ex.submit(judge.judge_one, it): k for it, k in zip(items, keys)}
            for fut in as_completed(futs):
                try:
                    raw, err = fut.result(), None
                except DefinemedError as e:  # the client's retries are spent: recorded, retried later
                    raw, err = None, str(e)
                store.record(futs[fut], raw, err, meta)
    else:  # a local judge (the reference stand-in): one call, stored item by item
        raws = judge.judge(items)
        if len(raws) != len(items):
            raise DefinemedError(f"judge '{judge.name}': returned {len(raws)} judgments for {len(items)} pairs")
        for k, r in zip(keys, raws):
            store.record(k, r if isinstance(r, str) else repr(r), None, meta)


def judge_persisted(judge, items: list[dict], path: str | os.PathLike, judge_model: str, prompt_version: str,
                    rounds: int = 3) -> tuple[list[str | None], dict]:
    """Raw judge texts for `items` (None where every attempt failed), resuming from `path`."""
    store = JudgmentStore(path)
    fields = tuple(getattr(judge, "key_fields", ()))
    keys = [judgment_key(it, judge.name, judge_model, prompt_version, fields) for it in items]
    reused = sum(k in store.done for k in dict.fromkeys(keys))
    for r in range(rounds):
        pending = {k: it for k, it in zip(keys, items) if k not in store.done}  # duplicates judged once
        if not pending:
            break
        _run_round(judge, list(pending.values()), list(pending.keys()), store,
                   {"judge": judge.name, "judge_model": judge_model, "prompt_version": prompt_version, "round": r})
    failed = sorted({k for k in keys if k not in store.done})
    info = {"n_requests": len(dict.fromkeys(keys)), "n_reused": reused, "n_failed_requests": len(failed),
            "failed_errors": sorted({store.failures.get(k, "") for k in failed})[:5]}
    return [store.done.get(k) for k in keys], info
