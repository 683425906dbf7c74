"""definemed.finite: NaN / Inf found in chunks, by element; a poisoned model file is refused by name."""
from __future__ import annotations

import shutil

import torch
from safetensors.torch import load_file, save_file

from definemed.finite import first_non_finite


def poison(src, dst, name, value):
    shutil.copytree(src, dst)
    f = next(dst.glob("*.safetensors"))
    sd = load_file(f)
    flat = sd[name].view(-1)
    flat[flat.numel() // 2] = value
    save_file(sd, f, metadata={"format": "pt"})
    return dst


def test_first_non_finite_over_chunks(monkeypatch):
    import definemed.finite as F

    monkeypatch.setattr(F, "CHUNK", 7)
    x = torch.zeros(50)
    assert first_non_finite(x) is None
    x[33] = float("-inf")
    released = []
    assert first_non_finite(x, lambda s, c: released.append(s)) == 33
    assert released == [0, 7, 14, 21, 28]  # pages of every checked chunk are released
    assert first_non_finite(torch.arange(5)) is None  # integer tensors cannot hold NaN
