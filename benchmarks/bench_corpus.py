"""Corpus generation speed (documents per second), the first benchmark entry.

Target: at least 5,000 documents per second on this machine, so the million-document corpus used by
the packing and filtering benchmarks takes minutes. No baseline (nothing stock generates this corpus);
3 runs, the median and spread; every run writes the same number of documents (checked).
"""
from __future__ import annotations

import tempfile
import time
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import row, stat  # noqa: E402

from definemed.config import load_config
from definemed.corpus.stage import build_corpus

N_DOCS = 100_000


def generate(n: int) -> dict:
    cfg = load_config("tiny", overrides={"corpus.n_docs": n, "corpus.shard_size": 50_000, "corpus.expert_sample": 1000})
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        stats = build_corpus(cfg, Path(d) / "corpus")
        dt = time.perf_counter() - t0
    return {"documents": stats["n_docs"], "seconds": dt}


def run() -> dict:
    runs = [generate(N_DOCS) for _ in range(3)]
    dps = stat([r["documents"] / r["seconds"] for r in runs], 0)
    same = len({r["documents"] for r in runs}) == 1
    met = bool(dps["median"] >= 5000 and same)
    return {
        "documents": runs[0]["documents"], "seconds": stat([r["seconds"] for r in runs], 2), "docs_per_second": dps,
        "target_docs_per_second": 5000, "meets_target": met,
        "row": row(f"synthetic corpus generation, {N_DOCS:,} documents written as parquet shards", "—",
                   f"{dps['median']:,.0f} documents/s", f"{dps['median']:,.0f} docs/s ({dps['min']:,.0f}-{dps['max']:,.0f}, "
                   "median of 3)", f"{runs[0]['documents']:,} documents every run: {'yes' if same else 'NO'}",
                   "≥ 5,000 docs/s", met),
        "prose": (f"The synthetic corpus generator wrote {dps['median']:,.0f} documents/s ({dps['min']:,.0f}-"
                  f"{dps['max']:,.0f} over 3 runs of {N_DOCS:,} documents)."),
    }
