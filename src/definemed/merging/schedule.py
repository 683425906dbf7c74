"""The merge schedule of a profile: cfg.merge -> a mergekit-style SLERP config, and per-layer t.

The paper's schedule (docs/paper-facts.md): base = the instruct model (t = 0), other = its CPT model (t = 1);
self_attn t anchors [0, 0.5, 0.3, 0.7, 1], mlp t anchors [1, 0.5, 0.7, 0.3, 0], everything else 0.5.
Anchors are interpolated linearly over the layer position, exactly as mergekit does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from definemed.config import MergeConfig
from definemed.merging.hf_folder import num_hidden_layers
from definemed.merging.spec import interpolate, layer_position


def slerp_config(mcfg: MergeConfig, base: str | Path, other: str | Path, *, t: Optional[float] = None,
                 n_layers: Optional[int] = None) -> dict:
    """The mergekit YAML (as data) merging `other` into `base` with the profile's schedule, or with
    one global `t` for every tensor (the sweep). Paths are made absolute (mergekit needs that)."""
    base, other = Path(base).absolute(), Path(other).absolute()
    n = n_layers if n_layers is not None else num_hidden_layers(base)
    if t is None:
        t_setting = [
            {"filter": "self_attn", "value": list(mcfg.self_attn_t)},
            {"filter": "mlp", "value": list(mcfg.mlp_t)},
            {"value": mcfg.default_t},
        ]
    else:
        t_setting = float(t)
    cfg: dict = {
        "merge_method": "slerp",
        "base_model": str(base),
        "slices": [{"sources": [{"model": str(base), "layer_range": [0, n]},
                                {"model": str(other), "layer_range": [0, n]}]}],
        "parameters": {"t": t_setting},
    }
    if mcfg.dtype:
        cfg["dtype"] = mcfg.dtype
    return cfg


def layer_schedule(mcfg: MergeConfig, n_layers: int) -> pd.DataFrame:
    """t of self-attention, MLP and other tensors per layer (what the merge will use)."""
    rows = []
    for i in range(n_layers):
        pos = layer_position(i, n_layers)
        rows.append({"layer": i, "self_attn": interpolate(tuple(mcfg.self_attn_t), pos),
                     "mlp": interpolate(tuple(mcfg.mlp_t), pos), "other": mcfg.default_t})
    return pd.DataFrame(rows)
