"""Stage 05: layer-wise, component-specific SLERP of a CPT model with its instruct base.

- `slerp(t, v0, v1)`: the pure function (mergekit 0.1.5's arithmetic, bit for bit);
- `merge(config_yaml, out_dir)`: the streaming merge of a mergekit-style SLERP config;
- `schedule`: the paper profile's schedule and the mergekit YAML built from `cfg.merge`;
- `stage`: the stage (`run(cfg)`: the merges, then perplexities, format rate and the t sweep measured);
- `report`: its tables and figures.

Command line: `python -m definemed merge CONFIG.yaml OUT_DIR [--force]`.
"""
from definemed.merging.driver import merge, plan_merge
from definemed.merging.slerp import slerp
from definemed.merging.spec import load_spec

__all__ = ["load_spec", "merge", "plan_merge", "slerp"]
