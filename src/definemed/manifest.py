"""Provenance beside every artifact (datatrove / mergekit style).

After a stage ran (`definemed.stages.run`), its driver (the notebook runner or `definemed run`) writes
data/<profile>/manifests/<stage>.json: the stage's fingerprint, output digest and counts, with the
config sections it depends on, git commit, seed, package versions and hardware. That manifest is the
stage's Make target.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from definemed import artifacts, io, paths, stages
from definemed.config import Config, resolved
from definemed.errors import DefinemedError

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


def write_manifest(cfg: Config, stage: str, notebook: dict | None = None) -> Path:
    """data/<profile>/manifests/<stage>.json from the stage's record plus provenance: the Make target."""
    rec = stages.read_record(cfg, stage)
    if rec is None:
        raise DefinemedError(f"{artifacts.record_file(cfg, stage)}: stage {stage} has no record to write a manifest from")
    dump = resolved(cfg)
    manifest = {
        "stage": stage,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "git_commit": git_commit(),
        "finished_at": rec["finished_at"],
        "wall_time_s": rec["wall_time_s"],
        "fingerprint": rec["fingerprint"],
        "outputs_digest": rec["outputs_digest"],
        "n_output_files": len(rec["outputs"]),
        "counts": rec["counts"],
        "notebook": notebook,
        "packages": package_versions(),
        "hardware": hardware(),
        "config": {k: dump[k] for k in artifacts.spec(stage).sections},
    }
    return io.write_json(artifacts.manifest_file(cfg, stage), manifest)
