"""Stage 01: label the seeded sample (`annotate.run_label_stage`), then measure agreement with the
expert labels where the corpus has them. Writes data/<profile>/01_label/:

- labels.parquet     id, label (1 / 0 / -1 invalid), prob, raw, backend, latency_s (stage 02 reads it)
- summary.json       counts of the labelling run
- agreement.json     precision / recall / F1 / kappa against the experts with bootstrap CIs, the
                     confusion matrix, and the second expert against the first (absent without experts)
"""
from __future__ import annotations

from definemed import artifacts, io
from definemed.config import Config
from definemed.labeling.agreement import agreement
from definemed.labeling.annotate import load_labels, run_label_stage
from definemed.labeling.sample import load_experts


def run(ctx) -> dict:
    """Stage 01 (a `definemed.context.StageContext`): label the sample, then agree with the experts."""
    cfg: Config = ctx.cfg
    corpus = ctx.input_stage(artifacts.CORPUS)
    summary = run_label_stage(cfg, corpus_dir=corpus)
    counts = {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
    experts = load_experts(corpus)
    if experts is not None:
        agr = agreement(load_labels(cfg), experts, cfg.label.n_bootstrap, cfg.label.ci, cfg.seed)
        agr["confusion"] = agr["confusion"].reset_index().to_dict("records")
        io.write_json(ctx.out("agreement"), agr)
        counts.update(f1=agr["point"]["f1"], f1_ci=list(agr["ci"]["f1"]), precision=agr["point"]["precision"],
                      recall=agr["point"]["recall"], kappa=agr["point"]["kappa"], kappa_ci=list(agr["ci"]["kappa"]))
    return counts


def load_agreement(cfg: Config) -> dict | None:
    """agreement.json with its confusion matrix as a DataFrame again (None: the corpus has no experts)."""
    import pandas as pd

    f = artifacts.label_agreement(cfg)
    if not f.is_file():
        return None
    agr = io.read_json(f)
    agr["confusion"] = pd.DataFrame(agr["confusion"]).set_index("expert \\ annotator")
    agr["confusion"].columns.name = None
    return agr
