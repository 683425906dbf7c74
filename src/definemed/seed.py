"""The one seeding function (torchtitan's set_determinism, reduced to what runs here).

Not bitwise stable across machines: float reductions in multi-threaded BLAS and gloo all-reduce
order can differ between CPU models; on one machine with the same thread count, reruns are identical.
"""
from __future__ import annotations

import hashlib
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


def stream_key(name: int | str) -> int:
    """One element of a stream's SeedSequence entropy: an int as it is, a name by the sha256 of its whole
    UTF-8 text (so 'quality-mistral-7b-tiny' and 'quality-qwen2.5-7b-tiny' are different streams; keying
    by a prefix made them one)."""
    if isinstance(name, bool) or not isinstance(name, (int, str)):
        raise TypeError(f"stream part {name!r}: use an int or a str")
    if isinstance(name, int):
        if name < 0:
            raise ValueError(f"stream part {name}: a negative int")
        return name
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest(), "little")


def rng(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent numpy generator for one named stream (shard, stage, ...) of a seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, *(stream_key(s) for s in stream)]))
