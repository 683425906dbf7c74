"""Corpus generation speed (documents per second), the first benchmark entry.

Target: at least 5,000 documents per second on this machine, so the million-document corpus used by
the packing and filtering benchmarks takes minutes.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from definemed.config import load_config
from definemed.corpus.stage import build_corpus

N_DOCS = 200_000


def run() -> dict:
    cfg = load_config("tiny", overrides={"corpus.n_docs": N_DOCS, "corpus.shard_size": 50_000, "corpus.expert_sample": 1000})
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        stats = build_corpus(cfg, Path(d) / "corpus")
        dt = time.perf_counter() - t0
    return {
        "documents": stats["n_docs"],
        "seconds": round(dt, 2),
        "docs_per_second": round(stats["n_docs"] / dt),
        "target_docs_per_second": 5000,
        "meets_target": stats["n_docs"] / dt >= 5000,
    }
