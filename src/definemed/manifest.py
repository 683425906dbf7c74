"""Provenance beside every artifact (datatrove / mergekit style).

A stage's notebook calls `record_counts(cfg, stage, ...)`; the notebook runner then writes
data/<profile>/manifests/<stage>.json with the resolved config, git commit, seed, package versions,
hardware, wall time and those counts. That manifest is the stage's Make target.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from definemed import io, paths
from definemed.config import Config, resolved

PACKAGES = [
    "torch", "transformers", "tokenizers", "safetensors", "datasets", "accelerate", "numpy",
    "pandas", "pyarrow", "papermill", "datatrove", "lm_eval", "mergekit", "scikit-learn",
]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(paths.ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        commit = out.stdout.strip() or "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(paths.ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }
    try:
        import torch

        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def counts_file(profile: str, stage: str) -> Path:
    return paths.stage_dir(profile, stage) / "counts.json"


def record_counts(cfg: Config, stage: str, **counts: Any) -> Path:
    """Record what a stage kept, dropped and measured; merged into the stage manifest."""
    f = counts_file(cfg.profile, stage)
    old = io.read_json(f) if f.exists() else {}
    old.update(counts)
    return io.write_json(f, old)


def write_manifest(cfg: Config, stage: str, wall_time_s: float, extra: dict | None = None) -> Path:
    f = counts_file(cfg.profile, stage)
    manifest = {
        "stage": stage,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "git_commit": git_commit(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": round(wall_time_s, 2),
        "counts": io.read_json(f) if f.exists() else {},
        "packages": package_versions(),
        "hardware": hardware(),
        "config": resolved(cfg),
    }
    manifest.update(extra or {})
    return io.write_json(paths.manifests_dir(cfg.profile) / f"{stage}.json", manifest)
