"""Packing: our vectorised best-fit decreasing plan against trl's `pack_dataset(strategy="bfd")`.

Workload: log-normal document lengths (median 400 tokens, sigma 1.0, about 1 % longer than the
sequence), seq_len 4,096. trl's "bfd" truncates a document longer than the sequence, so ours runs with
long_docs="truncate": the same pieces, the same best-fit decreasing, hence the same number of
sequences and tokens (checked and printed).

- Speed: 200k documents (trl needs the token table: 0.5 GB of int32 tokens here). Each side runs in a
  fresh process; imports and the input (lengths for ours, the `datasets.Dataset` of token lists for
  trl) are built before the timer, only the packing call is timed. trl's call also gathers the packed
  token table, ours only plans (`PackedDataset` gathers each sequence lazily while training), so it
  is the work each library does to get from documents to a packing. 3 alternating paired rounds.
- Memory: the growth of peak RSS over the process's RSS just before the call (the input counted in
  the baseline; the peak is reset there, so building the input leaves no high-water mark), per document length, for ours at 10M lengths in the pipeline's mode (long documents
  split, stage 04). Target: at most 40 bytes per length.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import paired, peak_rss_mb, ratios, reset_peak_rss, row, spread, stat  # noqa: E402

N_DOCS = 200_000
N_MEMORY = 10_000_000
SEQ_LEN = 4096
SEED = 0
TARGET_SPEEDUP = 10.0
TARGET_BYTES_PER_LENGTH = 40.0


def lengths(n: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return np.maximum(1, rng.lognormal(np.log(400), 1.0, n)).astype(np.int64)


def _job(kind: str, n: int) -> dict:
    """One side in this (fresh) process: inputs and imports first, then the timed call."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    L = lengths(n)
    if kind == "trl":
        import pyarrow as pa
        import pyarrow.compute as pc
        from datasets import Dataset
        from trl.data_utils import pack_dataset

        offsets = np.zeros(len(L) + 1, np.int64)
        np.cumsum(L, out=offsets[1:])
        values = pa.array((np.arange(offsets[-1], dtype=np.int64) % 32000).astype(np.int32))
        ds = Dataset(pa.table({"input_ids": pa.LargeListArray.from_arrays(pa.array(offsets), values)}))
        del values, offsets
    else:
        from definemed.packing import plan_packing
    base = reset_peak_rss()
    t0 = time.perf_counter()
    if kind == "trl":
        packed = pack_dataset(ds, SEQ_LEN, strategy="bfd", map_kwargs={"batch_size": len(L)})
        dt = time.perf_counter() - t0
        bins = len(packed)
        tokens = int(pc.sum(pc.list_value_length(packed.data.column("input_ids"))).as_py())
    else:
        plan = plan_packing(L, SEQ_LEN, "split" if kind == "ours_split" else "truncate", seed=1)
        dt = time.perf_counter() - t0
        bins, tokens = plan.num_bins, plan.tokens_kept
    peak = peak_rss_mb() - base
    return {"seconds": dt, "bins": bins, "tokens": tokens, "docs": int(len(L)), "peak_mb": peak,
            "bytes_per_length": peak * 2**20 / len(L)}


def measure(kind: str, n: int) -> dict:
    """One side in a fresh process (clean peak-RSS accounting, no warm caches from the other side)."""
    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    out = subprocess.run([sys.executable, __file__, kind, str(n)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"packing job {kind} {n} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> dict:
    runs = paired({"trl": lambda: measure("trl", N_DOCS), "ours": lambda: measure("ours", N_DOCS)})
    trl, ours = runs["trl"], runs["ours"]
    same = all(t["bins"] == o["bins"] == trl[0]["bins"] and t["tokens"] == o["tokens"] == trl[0]["tokens"]
               for t, o in zip(trl, ours))
    speed = ratios(trl, ours, "seconds", digits=1)
    mem = measure("ours_split", N_MEMORY)  # the pipeline's mode: long documents split, more pieces
    L = lengths(N_DOCS)
    eff = ours[0]["tokens"] / (ours[0]["bins"] * SEQ_LEN)
    met = bool(same and speed["median"] >= TARGET_SPEEDUP and mem["bytes_per_length"] <= TARGET_BYTES_PER_LENGTH)
    t_s, o_s = stat([r["seconds"] for r in trl]), stat([r["seconds"] for r in ours])
    return {
        "docs": N_DOCS, "seq_len": SEQ_LEN, "median_length": float(np.median(L)),
        "share_longer_than_seq": round(float((L > SEQ_LEN).mean()), 4),
        "trl_seconds": t_s, "ours_seconds": o_s, "speedup": speed,
        "bins": ours[0]["bins"], "tokens": ours[0]["tokens"], "efficiency": eff, "same_bins_and_tokens": same,
        "trl_peak_mb": round(max(r["peak_mb"] for r in trl), 1), "ours_peak_mb": round(max(r["peak_mb"] for r in ours), 1),
        "memory_docs": N_MEMORY, "memory_ours_peak_mb": round(mem["peak_mb"], 1),
        "memory_bytes_per_length": round(mem["bytes_per_length"], 1),
        "memory_seconds": round(mem["seconds"], 2),
        "target_speedup": TARGET_SPEEDUP, "target_bytes_per_length": TARGET_BYTES_PER_LENGTH, "meets_target": met,
        "row": row(f"BFD packing plan of {N_DOCS // 1000}k log-normal lengths (seq_len {SEQ_LEN}), in-process, imports "
                   "and inputs outside the timer",
                   f"trl `pack_dataset(strategy=\"bfd\")`: {t_s['median']:.2f} s",
                   f"`plan_packing(long_docs=\"truncate\")`: {o_s['median']:.3f} s; {mem['bytes_per_length']:.1f} "
                   f"bytes/length peak at {N_MEMORY // 10**6}M lengths",
                   f"{spread(speed, '.1f', 'x')} faster",
                   f"same sequences ({ours[0]['bins']:,}) and tokens: {'yes' if same else 'NO'}",
                   f"≥ {TARGET_SPEEDUP:g}x and ≤ {TARGET_BYTES_PER_LENGTH:g} bytes/length", met),
        "prose": (f"Packing {N_DOCS:,} log-normal document lengths into {SEQ_LEN:,}-token sequences, our plan took "
                  f"{o_s['median']:.3f} s and trl's `pack_dataset(strategy=\"bfd\")` {t_s['median']:.2f} s (imports and "
                  f"inputs outside the timer, fresh process each): {spread(speed, '.1f', 'x')} faster, with the same "
                  f"{ours[0]['bins']:,} sequences and {ours[0]['tokens']:,} tokens on both sides (efficiency "
                  f"{100 * eff:.4f} %). trl's call also builds the packed token table, ours only plans. At "
                  f"{N_MEMORY // 10**6}M lengths (long documents split, as stage 04 packs) our peak memory grows by {mem['peak_mb']:.0f} MB, "
                  f"{mem['bytes_per_length']:.1f} bytes per length (target ≤ {TARGET_BYTES_PER_LENGTH:g})."),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(_job(sys.argv[1], int(sys.argv[2]))))
    else:
        print(run())
