"""The one seeding function (torchtitan's set_determinism, reduced to what runs here).

Not bitwise stable across machines: float reductions in multi-threaded BLAS and gloo all-reduce
order can differ between CPU models; on one machine with the same thread count, reruns are identical.
"""
from __future__ import annotations

import os
import random

import numpy as np


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch (CPU and CUDA); optionally force deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:  # the corpus generator does not need torch
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def rng(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent numpy generator for one named stream (shard, stage, ...) of a seed."""
    key = [seed] + [s if isinstance(s, int) else int.from_bytes(s.encode()[:8].ljust(8, b"\0"), "little") for s in stream]
    return np.random.default_rng(np.random.SeedSequence(key))
