"""Non-finite weights stop the pipeline: NaN or Inf in a model's tensors is an error naming the tensor.

A diverged run or a damaged file can leave NaN / Inf in a model; merged or evaluated, they give NaN
perplexities and empty answers that look like results. `check_tensor` reads a tensor in chunks (so a
memory-mapped multi-gigabyte tensor is never materialised as a whole); `check_folder_finite` checks
every tensor of a Hugging Face folder's safetensors shards.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch

from definemed.errors import DefinemedError

CHUNK = 1 << 22
"""Elements per finiteness check (16 MB of float32): bounded memory for any tensor size."""


def first_non_finite(flat: torch.Tensor, release: Optional[Callable[[int, int], None]] = None) -> Optional[int]:
    """Index of the first NaN / Inf element of a flat tensor, or None; `release(start, count)` is
    called after each chunk (to drop memory-mapped pages).

    A chunk is searched element by element only when its float32 sum is not finite: any NaN or Inf
    makes the sum NaN or Inf, so a finite sum proves the chunk finite (a sum that overflows on finite
    values only costs the search). One read and no boolean mask for the common, finite case."""
    if not flat.dtype.is_floating_point:
        return None
    acc = torch.float64 if flat.dtype == torch.float64 else torch.float32
    for start in range(0, flat.numel(), CHUNK):
        chunk = flat[start:start + CHUNK]
        bad = None
        if not torch.isfinite(torch.sum(chunk, dtype=acc)):
            bad = (~torch.isfinite(chunk)).nonzero()
        if release is not None:
            release(start, CHUNK)
        if bad is not None and bad.numel():
            return start + int(bad[0, 0])
    return None


def check_tensor(flat: torch.Tensor, name: str, where: str | Path,
                 release: Optional[Callable[[int, int], None]] = None) -> None:
    i = first_non_finite(flat.reshape(-1), release)
    if i is not None:
        v = flat.reshape(-1)[i].item()
        raise DefinemedError(f"{where}: tensor {name} has non-finite values (element {i} is {v}); "
                             "the model diverged or the file is damaged")


def check_folder_finite(folder: str | Path) -> int:
    """Check every tensor of every *.safetensors file in `folder`; return the number of tensors."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise DefinemedError(f"{folder}: no .safetensors weights")
    n = 0
    for f in files:
        try:
            with safe_open(f, framework="pt") as fh:
                for name in fh.keys():
                    check_tensor(fh.get_tensor(name), name, f)
                    n += 1
        except SafetensorError as e:
            raise DefinemedError(f"{f}: unreadable safetensors file ({e})") from None
    return n
