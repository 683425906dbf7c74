"""How time and peak memory grow with the input: packing, corpus generation and the merge at five sizes
each spanning at least 10x, every size repeated, with the growth exponent b of time ~ n^b and
memory ~ n^b fitted by least squares on a log-log scale over all (size, repeat) points, with the
95 % interval of b (b = 1: linear; n log n shows as b slightly above 1 over a 10x range, about 1.1;
b < 1: fixed costs still visible). Our code only; the comparisons with the stock tools are the other entries.

- packing: `plan_packing` of 1M to 10M log-normal lengths (long documents split), fresh process,
  in-process time of the call and the growth of peak RSS over the input, 3 repeats per size;
- corpus: the synthetic generator at 10k to 100k documents, fresh process, in-process time and
  whole-process peak RSS, 2 repeats;
- merge: Qwen2-0.5B-shaped bf16 pairs scaled in depth and vocabulary together (2 to 24 layers,
  vocabulary 151,936 x layers / 24, about 0.08 to 1 GB each), `python -m definemed merge`, the
  merge's own time (start-up excluded) and whole-process peak RSS (a streaming merge: nearly flat),
  2 repeats after one page-cache warm-up.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))
from bench_packing import measure as packing_job  # noqa: E402
from common import QUICK, fit_exponent, row, timed_process  # noqa: E402

WORK = ROOT / "build" / "bench" / "scaling"
PACKING = (100_000, 180_000, 320_000, 560_000, 1_000_000) if QUICK else \
    (1_000_000, 1_800_000, 3_200_000, 5_600_000, 10_000_000)
CORPUS = (2_000, 3_600, 6_400, 11_000, 20_000) if QUICK else (10_000, 18_000, 32_000, 56_000, 100_000)
MERGE_LAYERS = (1, 2, 3, 6, 12) if QUICK else (2, 4, 6, 12, 24)
REPEATS = {"packing": 3, "corpus": 2, "merge": 2}


def shape(b: float) -> str:
    return "about linear" if 0.85 <= b <= 1.2 else ("sub-linear (fixed costs)" if b < 0.85 else "super-linear")


def _corpus(n: int, env: dict) -> dict:
    code = ("import sys, json; sys.path.insert(0, %r); from bench_corpus import generate; "
            "print(json.dumps(generate(%d)))") % (str(HERE), n)
    p = timed_process([sys.executable, "-c", code], env)
    return {"n": n, "seconds": json.loads(p["stdout"].strip().splitlines()[-1])["seconds"], "peak_mb": p["peak_rss_mb"]}


def _merge_pair(layers: int) -> tuple[Path, Path, Path]:
    from definemed.config import MergeConfig
    from definemed.merging.schedule import slerp_config
    from tests.factories import QWEN2_05B, model_config, write_random_model

    work = WORK / f"merge-{layers}"
    base, other = work / "base", work / "other"
    if not (work / "pair.done").exists():
        shutil.rmtree(work, ignore_errors=True)
        cfg = model_config(**{**QWEN2_05B, "num_hidden_layers": layers, "vocab_size": QWEN2_05B["vocab_size"] * layers // 24})
        write_random_model(base, cfg, dtype=torch.bfloat16, seed=1)
        write_random_model(other, cfg, dtype=torch.bfloat16, seed=2, related=base, noise=0.1)
        (work / "pair.done").write_text("ok\n")
    yml = work / "slerp.yaml"
    yml.write_text(yaml.safe_dump(slerp_config(MergeConfig(dtype="bfloat16"), base, other), sort_keys=False))
    return base, yml, work / "out"


def _merge(layers: int, env: dict) -> dict:
    base, yml, out = _merge_pair(layers)
    cmd = [sys.executable, "-m", "definemed", "merge", str(yml), str(out), "--force", "--quiet"]
    p = timed_process(cmd, env)
    seconds = float(p["stdout"].rsplit(" in ", 1)[1].split()[0])  # "... in 3.1 s": the merge's own time
    size = sum(f.stat().st_size for f in base.glob("*.safetensors"))
    return {"n": size, "layers": layers, "seconds": seconds, "peak_mb": p["peak_rss_mb"]}


def _repeat(name: str, sizes, job) -> list[dict]:
    """Every size `REPEATS[name]` times, sizes interleaved (1 2 3 4 5, 5 4 3 2 1, ...) so a slow spell of
    the machine does not fall on one size only."""
    out = []
    for r in range(REPEATS[name]):
        for n in (sizes if r % 2 == 0 else sizes[::-1]):
            out.append(job(n))
    return out


def run() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    for k in MERGE_LAYERS:  # build the pairs and warm the page cache before any timing
        _merge(k, env)
    measured = {
        "packing": _repeat("packing", PACKING, lambda n: dict(packing_job("ours_split", n), n=n)),
        "corpus": _repeat("corpus", CORPUS, lambda n: _corpus(n, env)),
        "merge": _repeat("merge", MERGE_LAYERS, lambda k: _merge(k, env)),
    }
    out: dict = {}
    for name, rs in measured.items():
        rs = sorted(rs, key=lambda r: r["n"])
        sizes = sorted({r["n"] for r in rs})
        med = {n: float(np.median([r["seconds"] for r in rs if r["n"] == n])) for n in sizes}
        mem = {n: float(np.median([r["peak_mb"] for r in rs if r["n"] == n])) for n in sizes}
        out[name] = {"sizes": sizes, "span": round(sizes[-1] / sizes[0], 1), "repeats": REPEATS[name],
                     "seconds_median": [round(med[n], 3) for n in sizes], "peak_mb_median": [round(mem[n], 1) for n in sizes],
                     "points": [{"n": r["n"], "seconds": round(r["seconds"], 4), "peak_mb": round(r["peak_mb"], 1)} for r in rs],
                     "time_exponent": fit_exponent([r["n"] for r in rs], [r["seconds"] for r in rs]),
                     "memory_exponent": fit_exponent([r["n"] for r in rs], [max(r["peak_mb"], 1e-3) for r in rs])}
        if name == "packing":
            out[name]["bytes_per_length"] = [round(mem[n] * 2**20 / n, 1) for n in sizes]
    p, c, m = out["packing"], out["corpus"], out["merge"]

    def b(e: dict) -> str:
        return f"n^{e['b']:.2f} [{e['ci95'][0]:.2f}, {e['ci95'][1]:.2f}]"

    def rng(e: dict, unit: str, scale: float, fmt: str) -> str:
        return (f"{len(e['sizes'])} sizes {e['sizes'][0] * scale:{fmt}}-{e['sizes'][-1] * scale:{fmt}}{unit} "
                f"({e['span']:g}x) x {e['repeats']}")

    text = (f"packing ({rng(p, 'M lengths', 1e-6, 'g')}): time {b(p['time_exponent'])}, memory "
            f"{b(p['memory_exponent'])}, {' / '.join(f'{x:.1f}' for x in p['bytes_per_length'])} bytes per length; "
            f"corpus ({rng(c, 'k documents', 1e-3, 'g')}): time {b(c['time_exponent'])}; merge "
            f"({rng(m, ' GB per model', 1e-9, '.2f')}): time {b(m['time_exponent'])}, peak RSS "
            f"{m['peak_mb_median'][0]:.0f}-{m['peak_mb_median'][-1]:.0f} MB, {b(m['memory_exponent'])}")
    spans_ok = all(e["span"] >= 10 and len(e["sizes"]) >= 5 for e in (p, c, m))
    out["row"] = row("time and peak memory over 5 sizes spanning ≥ 10x, repeated; fitted exponent b of time ~ n^b "
                     "with its 95 % interval", "—", text,
                     f"packing {shape(p['time_exponent']['b'])}, corpus {shape(c['time_exponent']['b'])}, merge "
                     f"{shape(m['time_exponent']['b'])}; merge memory n^{m['memory_exponent']['b']:.2f}",
                     "—", "", None if spans_ok else False)
    out["prose"] = f"Scaling (least-squares exponent b of time ~ n^b with its 95 % interval, over every repeat): {text}."
    return out


if __name__ == "__main__":
    print(run())
