"""Stage 05: layer-wise, component-specific SLERP of a CPT model with its instruct base.

- `slerp(t, v0, v1)`: the pure function (mergekit 0.1.5's arithmetic, bit for bit);
- `merge(config_yaml, out_dir)`: the streaming merge of a mergekit-style SLERP config;
- `schedule`: the paper profile's schedule and the mergekit YAML built from `cfg.merge`;
- `analysis`: what the notebook measures (perplexities, format rate, the t sweep).

Command line: `python -m definemed merge CONFIG.yaml OUT_DIR [--force]`.
"""
from definemed.merging.driver import merge, plan_merge
from definemed.merging.slerp import slerp
from definemed.merging.spec import load_spec

STAGE = "05_merge"

__all__ = ["STAGE", "load_spec", "merge", "plan_merge", "slerp"]
