"""How far a model moved in weight space: cosine similarity of each tensor with the same tensor of
another model (base vs CPT, base vs SLERP), averaged per tensor group.

    tensor_group("model.layers.0.self_attn.q_proj.weight")   # "attention"
    group_cosines(base_tensors, other_tensors)                # {"embeddings": 0.99, "attention": ...}
    folder_cosines(base_folder, other_folder)                 # the same from two safetensors folders

Real CPT at lr 2e-5 leaves every tensor at a cosine near 1 with its base; a run whose cosines fall
far below has left the base's basin, and interpolating the two (SLERP) then mixes unrelated weights.
Pure functions on tensors, plus one loader of safetensors files (no model code runs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from definemed.errors import DefinemedError

GROUPS = ("embeddings", "attention", "mlp", "norms", "other")


def tensor_group(name: str) -> str:
    """embeddings (token embeddings, output head), attention, mlp, norms (any *norm*), else other."""
    n = name.lower()
    if "norm" in n:
        return "norms"
    if "embed" in n or "lm_head" in n or "wte" in n or "wpe" in n:
        return "embeddings"
    if "attn" in n or "attention" in n:
        return "attention"
    if "mlp" in n or "feed_forward" in n or "ffn" in n:
        return "mlp"
    return "other"


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of two tensors flattened to vectors (float64); 1.0 for two zero tensors, 0.0 for one."""
    x, y = a.detach().double().flatten(), b.detach().double().flatten()
    nx, ny = float(x.norm()), float(y.norm())
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(torch.dot(x, y) / (nx * ny))


def group_cosines(base: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Per group: mean and minimum cosine over the tensors both models have, and their count.
    Tensors of different shapes are an error (not the same architecture)."""
    return _aggregate((name, base[name], other[name]) for name in sorted(set(base) & set(other)))


def _aggregate(pairs) -> dict[str, dict]:
    per: dict[str, list[float]] = {}
    for name, a, b in pairs:
        if a.shape != b.shape:
            raise DefinemedError(f"weight cosine: {name} has shape {tuple(a.shape)} vs {tuple(b.shape)}")
        per.setdefault(tensor_group(name), []).append(cosine(a, b))
    if not per:
        raise DefinemedError("weight cosine: the two models share no tensor names")
    return {g: {"mean": float(np.mean(c)), "min": float(np.min(c)), "n_tensors": len(c)}
            for g in GROUPS if (c := per.get(g))}


def _index(folder: str | Path) -> dict[str, Path]:
    """Tensor name -> the *.safetensors file of a model folder that holds it."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise DefinemedError(f"{folder}: no .safetensors weights")
    out = {}
    for f in files:
        with safe_open(str(f), framework="pt") as h:
            out.update({k: f for k in h.keys()})
    return out


def folder_cosines(base: str | Path, other: str | Path) -> dict[str, dict]:
    """`group_cosines` of two model folders, read one tensor pair at a time (a 7B pair never sits in
    memory whole; no pickle, no model code)."""
    from safetensors import safe_open

    ia, ib = _index(base), _index(other)

    def pairs():
        for name in sorted(set(ia) & set(ib)):
            with safe_open(str(ia[name]), framework="pt") as ha, safe_open(str(ib[name]), framework="pt") as hb:
                yield name, ha.get_tensor(name), hb.get_tensor(name)

    return _aggregate(pairs())
