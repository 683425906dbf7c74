"""Packing: our vectorised best-fit decreasing against trl's `pack_dataset(strategy="bfd")`, like for like.

Workload: log-normal document lengths (median 400 tokens, sigma 1.0, about 1 % longer than the
sequence), seq_len 4,096. trl's "bfd" truncates a document longer than the sequence, so ours runs with
long_docs="truncate": the same pieces, the same best-fit decreasing, hence the same sequences.

Two comparisons of equal work (issue 31), each side in a fresh process, imports and inputs built
before the timer, paired alternating rounds (`common.REPEATS`, each ratio with its 95 % interval):
- plan vs plan: trl's `_pack_bfd` run up to its bin assignment (its own code: the truncation, lengths,
  sort and segment-tree best fit; the call is stopped where it starts gathering tokens, `pc.take`)
  against `plan_packing`;
- materialised vs materialised: trl's whole `pack_dataset` (the packed `input_ids` table and its
  `seq_lengths`) against `plan_packing` plus one numpy gather building the same table: the packed
  token values and bin offsets are checked identical to trl's, in order.
- Memory: the growth of peak RSS over the process's RSS just before the call, per document length,
  for ours in the pipeline's mode (long documents split, stage 04), at every size measured (1M, 3M,
  10M lengths). Target: at most 40 bytes per length at every size.
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
from common import QUICK, paired, peak_rss_mb, ratios, reset_peak_rss, row, spread, stat  # noqa: E402

N_DOCS = 20_000 if QUICK else 200_000
MEMORY_SIZES = (200_000, 500_000) if QUICK else (1_000_000, 3_000_000, 10_000_000)
SEQ_LEN = 4096
SEED = 0
TARGET_SPEEDUP = 10.0
TARGET_BYTES_PER_LENGTH = 40.0


def lengths(n: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return np.maximum(1, rng.lognormal(np.log(400), 1.0, n)).astype(np.int64)


class _PlanDone(Exception):
    pass


def _trl_plan(table, seq_len: int) -> float:
    """Seconds of trl's `_pack_bfd` up to its bin assignment: its module's `pc` is swapped for a proxy
    whose `take` (the first step after the plan: gathering the packed rows) stops the call."""
    import pyarrow.compute as pc
    import trl.data_utils as du

    class Proxy:
        def __getattr__(self, name):
            return getattr(pc, name)

        @staticmethod
        def take(*a, **k):
            raise _PlanDone

    du.pc = Proxy()
    try:
        t0 = time.perf_counter()
        try:
            du._pack_bfd(table, seq_len)
        except _PlanDone:
            return time.perf_counter() - t0
        raise RuntimeError("trl's _pack_bfd no longer calls pc.take after planning: update bench_packing")
    finally:
        du.pc = pc


def _materialise(plan, values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The packed token table from a plan: every bin's pieces concatenated in order (trl's layout)."""
    n = plan.length.astype(np.int64)
    src = offsets[plan.doc_index] + plan.start  # first token of every piece
    piece_first_out = np.cumsum(n) - n
    idx = np.repeat(src - piece_first_out, n) + np.arange(int(n.sum()), dtype=np.int64)
    bin_tokens = np.add.reduceat(n, plan.bin_offsets[:-1]) if plan.num_bins else n[:0]
    bin_off = np.zeros(plan.num_bins + 1, np.int64)
    np.cumsum(bin_tokens, out=bin_off[1:])
    return values[idx], bin_off


def _job(kind: str, n: int) -> dict:
    """One side in this (fresh) process: inputs and imports first, then the timed call."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    L = lengths(n)
    if kind.startswith("trl") or kind == "ours_table":
        import pyarrow as pa
        import pyarrow.compute as pc

        offsets = np.zeros(len(L) + 1, np.int64)
        np.cumsum(L, out=offsets[1:])
        np_values = (np.arange(offsets[-1], dtype=np.int64) % 32000).astype(np.int32)
        table = pa.table({"input_ids": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(np_values))})
    if kind == "trl_table":
        from datasets import Dataset
        from trl.data_utils import pack_dataset

        ds = Dataset(table)
        del np_values
    elif kind == "trl_plan":
        import trl.data_utils  # noqa: F401
    else:
        from definemed.packing import plan_packing
    base = reset_peak_rss()
    t0 = time.perf_counter()
    digest = None
    if kind == "trl_table":
        packed = pack_dataset(ds, SEQ_LEN, strategy="bfd", map_kwargs={"batch_size": len(L)})
        dt = time.perf_counter() - t0
        col = packed.data.column("input_ids").combine_chunks()
        bins = len(packed)
        vals = col.values.to_numpy()
        offs = col.offsets.to_numpy().astype(np.int64)
        tokens = int(len(vals))
        digest = [int(np.bitwise_xor.reduce(vals * np.arange(1, len(vals) + 1, dtype=np.int64) % 1000003)),
                  int((offs * 7 % 1000003).sum())]
    elif kind == "trl_plan":
        dt = _trl_plan(table, SEQ_LEN)
        bins = tokens = -1  # the plan is cut off inside trl: counted by the materialised side
    elif kind == "ours_table":
        plan = plan_packing(L, SEQ_LEN, "truncate")
        vals, offs = _materialise(plan, np_values, offsets)
        dt = time.perf_counter() - t0
        bins, tokens = plan.num_bins, int(len(vals))
        digest = [int(np.bitwise_xor.reduce(vals.astype(np.int64) * np.arange(1, len(vals) + 1, dtype=np.int64)
                                            % 1000003)), int((offs * 7 % 1000003).sum())]
    else:
        plan = plan_packing(L, SEQ_LEN, "split" if kind == "ours_split" else "truncate", seed=None)
        dt = time.perf_counter() - t0
        bins, tokens = plan.num_bins, plan.tokens_kept
    peak = peak_rss_mb() - base
    return {"seconds": dt, "bins": bins, "tokens": tokens, "docs": int(len(L)), "peak_mb": peak,
            "bytes_per_length": peak * 2**20 / len(L), "digest": digest}


def measure(kind: str, n: int) -> dict:
    """One side in a fresh process (clean peak-RSS accounting, no warm caches from the other side)."""
    env = dict(os.environ, HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    out = subprocess.run([sys.executable, __file__, kind, str(n)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"packing job {kind} {n} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> dict:
    plan_runs = paired({"trl": lambda: measure("trl_plan", N_DOCS), "ours": lambda: measure("ours", N_DOCS)})
    table_runs = paired({"trl": lambda: measure("trl_table", N_DOCS), "ours": lambda: measure("ours_table", N_DOCS)})
    tt, ot = table_runs["trl"], table_runs["ours"]
    # the same packed table, in order: same sequences, tokens and a position-weighted digest of the values
    same_table = all(t["bins"] == o["bins"] == tt[0]["bins"] and t["tokens"] == o["tokens"]
                     and t["digest"] == o["digest"] for t, o in zip(tt, ot))
    plan_bins_same = all(r["bins"] == tt[0]["bins"] for r in plan_runs["ours"])
    speed_plan = ratios(plan_runs["trl"], plan_runs["ours"], "seconds", digits=1)
    speed_table = ratios(tt, ot, "seconds", digits=1)
    mem = [measure("ours_split", n) for n in MEMORY_SIZES]  # the pipeline's mode: long documents split
    bpl = [round(m["bytes_per_length"], 1) for m in mem]
    mem_met = max(bpl) <= TARGET_BYTES_PER_LENGTH
    L = lengths(N_DOCS)
    bins, tokens = ot[0]["bins"], ot[0]["tokens"]
    eff = tokens / (bins * SEQ_LEN)
    speed_met = speed_plan["median"] >= TARGET_SPEEDUP and speed_table["median"] >= TARGET_SPEEDUP
    met = bool(same_table and plan_bins_same and speed_met and mem_met)
    tp, op = stat([r["seconds"] for r in plan_runs["trl"]]), stat([r["seconds"] for r in plan_runs["ours"]])
    tts, ots = stat([r["seconds"] for r in tt]), stat([r["seconds"] for r in ot])
    sizes = " / ".join(f"{n / 1e6:g}M" for n in MEMORY_SIZES)
    mem_txt = f"{' / '.join(f'{b:.1f}' for b in bpl)} bytes/length peak at {sizes} lengths"
    missed = [x for x, ok in ((f"plan {speed_plan['median']:.1f}x < {TARGET_SPEEDUP:g}x",
                               speed_plan["median"] >= TARGET_SPEEDUP),
                              (f"table {speed_table['median']:.1f}x < {TARGET_SPEEDUP:g}x",
                               speed_table["median"] >= TARGET_SPEEDUP),
                              (f"memory {max(bpl):.1f} > {TARGET_BYTES_PER_LENGTH:g} bytes/length at "
                               f"{MEMORY_SIZES[int(np.argmax(bpl))] / 1e6:g}M", mem_met)) if not ok]
    return {
        "docs": N_DOCS, "seq_len": SEQ_LEN, "median_length": float(np.median(L)),
        "share_longer_than_seq": round(float((L > SEQ_LEN).mean()), 4),
        "trl_plan_seconds": tp, "ours_plan_seconds": op, "speedup_plan": speed_plan,
        "trl_table_seconds": tts, "ours_table_seconds": ots, "speedup_table": speed_table,
        "bins": bins, "tokens": tokens, "efficiency": eff, "same_packed_table_as_trl": same_table,
        "trl_table_peak_mb": round(max(r["peak_mb"] for r in tt), 1),
        "ours_table_peak_mb": round(max(r["peak_mb"] for r in ot), 1),
        "memory_sizes": list(MEMORY_SIZES), "memory_bytes_per_length": bpl,
        "memory_peak_mb": [round(m["peak_mb"], 1) for m in mem], "memory_seconds": [round(m["seconds"], 2) for m in mem],
        "target_speedup": TARGET_SPEEDUP, "target_bytes_per_length": TARGET_BYTES_PER_LENGTH, "meets_target": met,
        "missed": missed,
        "row": row(f"BFD packing of {N_DOCS // 1000}k log-normal lengths (seq_len {SEQ_LEN}), fresh process per side, "
                   "imports and inputs outside the timer; plan vs plan and packed table vs packed table",
                   f"trl: plan (its `_pack_bfd` up to the bins) {tp['median']:.2f} s; `pack_dataset(strategy=\"bfd\")` "
                   f"table {tts['median']:.2f} s",
                   f"`plan_packing(long_docs=\"truncate\")` {op['median']:.3f} s; plus the same table "
                   f"{ots['median']:.3f} s; {mem_txt}",
                   f"plan {spread(speed_plan, '.1f', 'x')}; table {spread(speed_table, '.1f', 'x')} faster",
                   f"same packed table as trl, in order ({bins:,} sequences, {tokens:,} tokens): "
                   f"{'yes' if same_table else 'NO'}",
                   f"≥ {TARGET_SPEEDUP:g}x both, ≤ {TARGET_BYTES_PER_LENGTH:g} bytes/length at every size"
                   + (f" (missed: {'; '.join(missed)})" if missed else ""), met),
        "prose": (f"Packing {N_DOCS:,} log-normal document lengths into {SEQ_LEN:,}-token sequences (imports and inputs "
                  f"outside the timer, a fresh process per side, {speed_plan['n']} paired rounds): planning took "
                  f"{op['median']:.3f} s with `plan_packing` and {tp['median']:.2f} s in trl's `_pack_bfd` up to its "
                  f"bin assignment, {spread(speed_plan, '.1f', 'x')} faster; building the packed token table as "
                  f"well (trl's whole `pack_dataset(strategy=\"bfd\")` against our plan plus one gather) took "
                  f"{ots['median']:.3f} s against {tts['median']:.2f} s, {spread(speed_table, '.1f', 'x')} faster, "
                  f"and the tables are {'identical' if same_table else 'NOT identical'} ({bins:,} sequences, "
                  f"{tokens:,} tokens, in the same order; efficiency {100 * eff:.4f} %). Our peak memory per length "
                  f"(long documents split, as stage 04 packs) is {mem_txt} (target ≤ {TARGET_BYTES_PER_LENGTH:g}: "
                  f"{'met' if mem_met else 'missed'})."),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(_job(sys.argv[1], int(sys.argv[2]))))
    else:
        print(run())
