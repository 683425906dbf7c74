"""Our streaming SLERP merge against `mergekit-yaml` 0.1.5 on the same YAML, whole process on both sides.

The pair: two random bfloat16 models shaped like Qwen2-0.5B (24 layers, hidden 896, vocab 151936,
tied embeddings, about 1 GB each; the second a perturbed copy of the first, so angles are realistic),
generated once into build/bench/merge/ and reused. The YAML is the paper profile's gradient schedule.
Both tools run as subprocesses under /usr/bin/time -v (wall time including start-up, CPU time, peak
RSS), each with its fastest settings and the same output shard size (issue 31): `mergekit-yaml
--async-write --write-threads 2 --out-shard-size 500M` and `python -m definemed merge
--max-shard-size 500M`. One unmeasured run of each warms the page cache with the inputs, then
`common.REPEATS` alternating paired rounds; the ratio is the median of the per-round ratios, with the
95 % interval of their geometric mean. Beside them the I/O floor: one process (no torch) that reads
both inputs once and writes one output of the same bytes as ours, the least any merge must do. CPU seconds (user + system) are reported beside wall time: on a shared
machine CPU time is the steadier measure of the work. Then the two outputs are compared tensor by
tensor (bit-identical when torch's intra-op thread count is the same for both tools, as here).

Targets (issue 19): at least 4x faster than mergekit whole-process, peak RSS under 512 MB, bit-identical.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))  # tests.factories

from definemed.config import MergeConfig  # noqa: E402
from definemed.merging.schedule import slerp_config  # noqa: E402
from tests.factories import QWEN2_05B, model_config, write_random_model  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from common import QUICK, paired, ratios, row, spread, stat, timed_process  # noqa: E402

WORK = ROOT / "build" / "bench" / ("merge-quick" if QUICK else "merge")
SHARD = "500M"
MERGEKIT_FLAGS = ["--async-write", "--write-threads", "2", "--out-shard-size", SHARD]
TARGET_SPEEDUP = 4.0
TARGET_RSS_MB = 512


def _pair() -> tuple[Path, Path]:
    base, other = WORK / "qwen2-0.5b-base", WORK / "qwen2-0.5b-other"
    done = WORK / "pair.done"
    if not done.exists():
        shutil.rmtree(WORK, ignore_errors=True)
        cfg = model_config(**(QWEN2_05B if not QUICK else {**QWEN2_05B, "num_hidden_layers": 4,
                                                           "vocab_size": QWEN2_05B["vocab_size"] // 8}))
        write_random_model(base, cfg, dtype=torch.bfloat16, seed=1)
        write_random_model(other, cfg, dtype=torch.bfloat16, seed=2, related=base, noise=0.1)
        done.write_text("ok\n")
    return base, other


def _compare(ours: Path, ref: Path) -> dict:
    from safetensors import safe_open

    def handles(folder):
        return [safe_open(str(f), "pt") for f in sorted(folder.glob("*.safetensors"))]

    a = {k: h for h in handles(ours) for k in h.keys()}
    b = {k: h for h in handles(ref) for k in h.keys()}
    identical, max_diff = 0, 0.0
    for k in b:
        x, y = a[k].get_tensor(k), b[k].get_tensor(k)
        if torch.equal(x, y):
            identical += 1
        else:
            max_diff = max(max_diff, float((x.float() - y.float()).abs().max()))
    return {"tensors": len(b), "same_names": set(a) == set(b), "bit_identical_tensors": identical,
            "max_abs_diff": max_diff}


IO_FLOOR = """
import sys
bufsize = 1 << 24
a, b, out, nbytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
buf = bytearray(bufsize)
view = memoryview(buf)
written = 0
with open(out, "wb") as w:
    for src in (a, b):
        for path in src.split(","):
            with open(path, "rb", buffering=0) as f:
                while True:
                    n = f.readinto(buf)
                    if not n:
                        break
                    if written < nbytes:
                        k = min(n, nbytes - written)
                        w.write(view[:k])
                        written += k
    while written < nbytes:
        k = min(bufsize, nbytes - written)
        w.write(view[:k])
        written += k
"""
"""The I/O floor: read every input shard of both models once, write `nbytes` (ours' output size)."""


def run() -> dict:
    base, other = _pair()
    cfg = slerp_config(MergeConfig(dtype="bfloat16"), base, other)
    yml = WORK / "slerp.yaml"
    yml.write_text(yaml.safe_dump(cfg, sort_keys=False))
    ours_out, mk_out = WORK / "out-ours", WORK / "out-mergekit"
    py = sys.executable
    ours_cmd = [py, "-m", "definemed", "merge", str(yml), str(ours_out), "--force", "--quiet",
                "--max-shard-size", SHARD]
    mk_cmd = [str(Path(py).parent / "mergekit-yaml"), str(yml), str(mk_out), "--quiet", *MERGEKIT_FLAGS]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    floor_out = WORK / "io-floor.bin"

    def mergekit() -> dict:
        shutil.rmtree(mk_out, ignore_errors=True)  # ours replaces its output with --force, inside its time
        return timed_process(mk_cmd, env)

    def io_floor() -> dict:
        shards = lambda m: ",".join(str(f) for f in sorted(m.glob("*.safetensors")))  # noqa: E731
        nbytes = sum(f.stat().st_size for f in ours_out.glob("*.safetensors"))
        floor_out.unlink(missing_ok=True)
        try:
            return timed_process([py, "-c", IO_FLOOR, shards(base), shards(other), str(floor_out), str(nbytes)], env)
        finally:
            floor_out.unlink(missing_ok=True)

    timed_process(ours_cmd, env)  # warm the page cache with the inputs (and make ours' output for the floor)
    mergekit()
    runs = paired({"mergekit": mergekit, "ours": lambda: timed_process(ours_cmd, env), "io_floor": io_floor})
    mk, ours, floor = runs["mergekit"], runs["ours"], runs["io_floor"]
    over_floor = ratios(floor, ours, "wall_s", higher_is_better=True)  # wall(ours) / wall(floor), per round
    mk_over_floor = ratios(floor, mk, "wall_s", higher_is_better=True)
    startup = timed_process([py, "-c", "import torch, mergekit.merge"], env)["wall_s"]
    wall, cpu = ratios(mk, ours, "wall_s"), ratios(mk, ours, "cpu_s")
    ours_rss = max(r["peak_rss_mb"] for r in ours)
    mk_rss = max(r["peak_rss_mb"] for r in mk)
    cmp = _compare(ours_out, mk_out)
    identical = cmp["same_names"] and cmp["bit_identical_tensors"] == cmp["tensors"]
    met = bool(wall["median"] >= TARGET_SPEEDUP and ours_rss < TARGET_RSS_MB and identical)
    o_w, m_w = stat([r["wall_s"] for r in ours], 2), stat([r["wall_s"] for r in mk], 2)
    f_w = stat([r["wall_s"] for r in floor], 2)
    missed = [x for x, ok in ((f"{wall['median']:.2f}x < {TARGET_SPEEDUP:g}x", wall["median"] >= TARGET_SPEEDUP),
                              (f"{ours_rss:,.0f} MB ≥ {TARGET_RSS_MB} MB", ours_rss < TARGET_RSS_MB),
                              ("not bit-identical", identical)) if not ok]
    return {
        "model": "Qwen2-0.5B-shaped random bf16 pair, tied embeddings",
        "input_gb_each": round(sum(f.stat().st_size for f in base.glob("*.safetensors")) / 1e9, 3),
        "mergekit_flags": MERGEKIT_FLAGS, "out_shard_size": SHARD,
        "ours_wall_s": o_w, "mergekit_wall_s": m_w, "io_floor_wall_s": f_w, "speedup": wall, "cpu_speedup": cpu,
        "ours_over_io_floor": over_floor, "mergekit_over_io_floor": mk_over_floor,
        "io_floor_cpu_s": stat([r["cpu_s"] for r in floor], 2),
        "ours_cpu_s": stat([r["cpu_s"] for r in ours], 2), "mergekit_cpu_s": stat([r["cpu_s"] for r in mk], 2),
        "ours_peak_rss_mb": round(ours_rss), "mergekit_peak_rss_mb": round(mk_rss),
        "torch_and_mergekit_import_s": round(startup, 2),
        **{f"compare_{k}": v for k, v in cmp.items()},
        "target_speedup": TARGET_SPEEDUP, "target_peak_rss_mb": TARGET_RSS_MB, "meets_target": met,
        "missed": missed,
        "row": row(f"SLERP merge of a Qwen2-0.5B-shaped bf16 pair (paper schedule), whole process incl. start-up, "
                   f"both with {SHARD} output shards",
                   f"`mergekit-yaml` 0.1.5 `{' '.join(MERGEKIT_FLAGS)}`: {m_w['median']:.1f} s, {mk_rss:,.0f} MB peak "
                   f"RSS; I/O floor (read both inputs, write the output's bytes): {f_w['median']:.1f} s",
                   f"`python -m definemed merge --max-shard-size {SHARD}`: {o_w['median']:.1f} s, {ours_rss:,.0f} MB "
                   "peak RSS",
                   f"{spread(wall, '.2f', 'x')} faster (CPU time {cpu['median']:.2f}x); ours "
                   f"{over_floor['median']:.2f}x the I/O floor, mergekit {mk_over_floor['median']:.2f}x",
                   f"{cmp['bit_identical_tensors']}/{cmp['tensors']} tensors bit-identical",
                   f"≥ {TARGET_SPEEDUP:g}x, < {TARGET_RSS_MB} MB, bit-identical"
                   + (f" (missed: {'; '.join(missed)})" if missed else ""), met),
        "prose": (f"Merging the Qwen2-0.5B-shaped bfloat16 pair with the paper schedule, whole process including "
                  f"start-up and {SHARD} output shards on both sides, `python -m definemed merge` took "
                  f"{o_w['median']:.1f} s ({o_w['min']:.1f}-{o_w['max']:.1f}) and `mergekit-yaml` 0.1.5 with "
                  f"`{' '.join(MERGEKIT_FLAGS)}` {m_w['median']:.1f} s ({m_w['min']:.1f}-{m_w['max']:.1f}): "
                  f"{spread(wall, '.2f', 'x')} faster in wall time, {cpu['median']:.2f}x in CPU time; peak RSS "
                  f"{ours_rss:,.0f} MB against {mk_rss:,.0f} MB; {cmp['bit_identical_tensors']} of {cmp['tensors']} "
                  f"output tensors bit-identical. The I/O floor, reading both inputs and writing the output's bytes "
                  f"with no arithmetic, took {f_w['median']:.1f} s: ours is {spread(over_floor, '.2f', 'x')} the "
                  f"floor, mergekit {mk_over_floor['median']:.2f}x. Importing torch and mergekit alone takes "
                  f"{startup:.1f} s here."),
    }
