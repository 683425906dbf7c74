"""Our streaming SLERP merge against `mergekit-yaml` 0.1.5 on the same YAML, side by side in one run.

The pair: two random bfloat16 models shaped like Qwen2-0.5B (24 layers, hidden 896, vocab 151936,
tied embeddings, about 1 GB each; the second a perturbed copy of the first, so angles are realistic),
generated once into build/bench/merge/ and reused. The YAML is the paper profile's gradient schedule.
Both tools run as subprocesses under /usr/bin/time -v (wall time, CPU time, peak RSS): ours first (it
also warms the page cache with the inputs), then mergekit, then ours again; our best wall time and
largest peak RSS are reported. CPU seconds (user + system) are reported beside wall time because the
machine is shared: under load, CPU time is the steadier measure of the work done. Then the two
outputs are compared tensor by tensor (bit-identical when torch's intra-op thread count is the same
for both tools, as here).

Targets (issue 7): at least 4x faster than mergekit and under 1 GB peak RSS.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))  # tests.factories

from definemed.config import MergeConfig  # noqa: E402
from definemed.merging.schedule import slerp_config  # noqa: E402
from tests.factories import QWEN2_05B, model_config, write_random_model  # noqa: E402

WORK = ROOT / "build" / "bench" / "merge"


def _pair() -> tuple[Path, Path]:
    base, other = WORK / "qwen2-0.5b-base", WORK / "qwen2-0.5b-other"
    done = WORK / "pair.done"
    if not done.exists():
        shutil.rmtree(WORK, ignore_errors=True)
        cfg = model_config(**QWEN2_05B)
        write_random_model(base, cfg, dtype=torch.bfloat16, seed=1)
        write_random_model(other, cfg, dtype=torch.bfloat16, seed=2, related=base, noise=0.1)
        done.write_text("ok\n")
    return base, other


def _timed(cmd: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TQDM_DISABLE="1", HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {p.stderr[-2000:]}")
    def field(label: str) -> float:
        return float(re.search(rf"{label}: ([\d.]+)", p.stderr).group(1))

    return {"wall_s": wall, "cpu_s": field(r"User time \(seconds\)") + field(r"System time \(seconds\)"),
            "peak_rss_mb": field(r"Maximum resident set size \(kbytes\)") / 1024}


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


def run() -> dict:
    base, other = _pair()
    cfg = slerp_config(MergeConfig(dtype="bfloat16"), base, other)
    yml = WORK / "slerp.yaml"
    yml.write_text(yaml.safe_dump(cfg, sort_keys=False))
    ours_out, mk_out = WORK / "out-ours", WORK / "out-mergekit"
    py = sys.executable
    ours_cmd = [py, "-m", "definemed", "merge", str(yml), str(ours_out), "--force", "--quiet"]
    mk_cmd = [str(Path(py).parent / "mergekit-yaml"), str(yml), str(mk_out), "--quiet"]
    runs: dict[str, list[dict]] = {"ours": [], "mergekit": []}
    runs["ours"].append(_timed(ours_cmd))
    shutil.rmtree(mk_out, ignore_errors=True)
    runs["mergekit"].append(_timed(mk_cmd))
    runs["ours"].append(_timed(ours_cmd))
    startup = _timed([py, "-c", "import torch, mergekit.merge"])["wall_s"]
    ours_wall = min(r["wall_s"] for r in runs["ours"])
    mk_wall = min(r["wall_s"] for r in runs["mergekit"])
    ours_rss = max(r["peak_rss_mb"] for r in runs["ours"])
    ours_cpu = min(r["cpu_s"] for r in runs["ours"])
    mk_cpu = min(r["cpu_s"] for r in runs["mergekit"])
    mk_rss = max(r["peak_rss_mb"] for r in runs["mergekit"])
    cmp = _compare(ours_out, mk_out)
    return {
        "model": "Qwen2-0.5B-shaped random bf16 pair, tied embeddings",
        "input_gb_each": round(sum(f.stat().st_size for f in base.glob("*.safetensors")) / 1e9, 3),
        "ours_wall_s": round(ours_wall, 2), "mergekit_wall_s": round(mk_wall, 2),
        "speedup": round(mk_wall / ours_wall, 2),
        "ours_cpu_s": round(ours_cpu, 2), "mergekit_cpu_s": round(mk_cpu, 2),
        "cpu_speedup": round(mk_cpu / ours_cpu, 2),
        "ours_peak_rss_mb": round(ours_rss), "mergekit_peak_rss_mb": round(mk_rss),
        "mergekit_import_s": round(startup, 2),
        "all_runs_wall_cpu_rss": json.dumps({k: [(round(r["wall_s"], 1), round(r["cpu_s"], 1), round(r["peak_rss_mb"]))
                                                 for r in v] for k, v in runs.items()}),
        "load_average_1min": round(os.getloadavg()[0], 1),
        **{f"compare_{k}": v for k, v in cmp.items()},
        "target_speedup": 4.0, "target_peak_rss_mb": 1024,
        "meets_target": mk_wall / ours_wall >= 4.0 and ours_rss < 1024,
    }


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:28s} {v}")
