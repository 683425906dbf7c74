"""How time and peak memory grow with the input: packing, corpus generation and the merge at three sizes
each, with the growth exponent b of time ~ n^b and memory ~ n^b fitted on a log-log scale (b = 1:
linear; n log n shows as b slightly above 1 over a 10x range, about 1.1; b < 1: fixed costs still
visible). Our code only; the comparisons with the stock tools are the other entries.

- packing: `plan_packing` of 1M / 3M / 10M log-normal lengths (long documents split), fresh process,
  in-process time of the call and the growth of peak RSS over the input;
- corpus: the synthetic generator at 25k / 50k / 100k documents, fresh process, in-process time and
  whole-process peak RSS;
- merge: Qwen2-0.5B-shaped bf16 pairs scaled in depth and vocabulary together (6 / 12 / 24 layers,
  vocab 37,984 / 75,968 / 151,936, about 0.25 / 0.5 / 1 GB each), `python -m definemed merge`, the
  merge's own time (start-up excluded) and whole-process peak RSS (a streaming merge: nearly flat).
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
from common import row, timed_process  # noqa: E402

WORK = ROOT / "build" / "bench" / "scaling"
PACKING = (1_000_000, 3_000_000, 10_000_000)
CORPUS = (25_000, 50_000, 100_000)
MERGE_LAYERS = (6, 12, 24)


def growth(n: list[float], y: list[float]) -> float:
    """The exponent b of y ~ n^b (least squares on logs)."""
    return round(float(np.polyfit(np.log(n), np.log(y), 1)[0]), 2)


def shape(b: float) -> str:
    return "about linear" if 0.85 <= b <= 1.2 else ("sub-linear (fixed costs)" if b < 0.85 else "super-linear")


def _corpus(n: int, env: dict) -> dict:
    code = ("import sys, json; sys.path.insert(0, %r); from bench_corpus import generate; "
            "print(json.dumps(generate(%d)))") % (str(HERE), n)
    p = timed_process([sys.executable, "-c", code], env)
    return {"n": n, "seconds": json.loads(p["stdout"].strip().splitlines()[-1])["seconds"], "peak_mb": p["peak_rss_mb"]}


def _merge(layers: int, env: dict) -> dict:
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
    cmd = [sys.executable, "-m", "definemed", "merge", str(yml), str(work / "out"), "--force", "--quiet"]
    timed_process(cmd, env)  # page cache warm
    p = timed_process(cmd, env)
    seconds = float(p["stdout"].rsplit(" in ", 1)[1].split()[0])  # "... in 3.1 s": the merge's own time
    size = sum(f.stat().st_size for f in base.glob("*.safetensors"))
    return {"n": size, "layers": layers, "seconds": seconds, "peak_mb": p["peak_rss_mb"]}


def run() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    pk = [dict(packing_job("ours_split", n), n=n) for n in PACKING]
    co = [_corpus(n, env) for n in CORPUS]
    me = [_merge(k, env) for k in MERGE_LAYERS]
    out: dict = {}
    for name, rs in (("packing", pk), ("corpus", co), ("merge", me)):
        n = [r["n"] for r in rs]
        out[name] = {"sizes": n, "seconds": [round(r["seconds"], 3) for r in rs],
                     "peak_mb": [round(r["peak_mb"], 1) for r in rs],
                     "time_exponent": growth(n, [r["seconds"] for r in rs]),
                     "memory_exponent": growth(n, [max(r["peak_mb"], 1e-3) for r in rs])}
    p, c, m = out["packing"], out["corpus"], out["merge"]
    gb = [x / 1e9 for x in m["sizes"]]
    text = (f"packing {p['seconds'][0]:.2f} / {p['seconds'][1]:.2f} / {p['seconds'][2]:.2f} s at 1M / 3M / 10M lengths "
            f"(time n^{p['time_exponent']}, memory n^{p['memory_exponent']}); corpus {c['seconds'][0]:.1f} / "
            f"{c['seconds'][1]:.1f} / {c['seconds'][2]:.1f} s at 25k / 50k / 100k documents (n^{c['time_exponent']}); "
            f"merge {m['seconds'][0]:.1f} / {m['seconds'][1]:.1f} / {m['seconds'][2]:.1f} s at {gb[0]:.2f} / {gb[1]:.2f} / "
            f"{gb[2]:.2f} GB per model (n^{m['time_exponent']}), peak RSS {m['peak_mb'][0]:.0f} / {m['peak_mb'][1]:.0f} / "
            f"{m['peak_mb'][2]:.0f} MB (n^{m['memory_exponent']})")
    out["row"] = row("time and peak memory at 3 sizes each, fitted growth exponent b (time ~ n^b)", "—", text,
                     f"packing {shape(p['time_exponent'])}, corpus {shape(c['time_exponent'])}, merge "
                     f"{shape(m['time_exponent'])}; merge memory n^{m['memory_exponent']}", "—", "", None)
    out["prose"] = (f"Scaling (fitted exponent b of time ~ n^b over each 4-10x range): {text}. Packing memory per "
                    f"length: {', '.join(f'{x * 2**20 / n:.1f}' for x, n in zip(p['peak_mb'], p['sizes']))} bytes.")
    return out


if __name__ == "__main__":
    print(run())
