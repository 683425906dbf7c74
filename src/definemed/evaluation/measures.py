"""Per-variant measurements of stage 06 beside benchmark accuracy, from the stage's own outputs:

    answer_quality(cfg, gens, wr)       quality.parquet: distinct/N, mean words, German sentences, in-format
                                        rate (with CI), end-of-turn rate, copy rate, gold share (with CI),
                                        top-object share per variant (definemed.evaluation.quality)
    format_changes(cfg, gens)           format_changes.parquet: paired change of the in-format share
                                        (CPT vs base, SLERP vs CPT, SLERP vs base) per family, with CIs
    general_scores(cfg, ll, recs)       general.parquet: general-question accuracy (CI) of every variant,
                                        held-out general perplexity and its ratio to the family's base
    weight_cosines(cfg)                 weights.parquet: cosine per tensor group, base vs CPT and vs SLERP
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed.config import Config
from definemed.evaluation import models, quality, weights, winrate
from definemed.numerics import mean_ci

CHANGES = (("cpt", "base"), ("slerp", "cpt"), ("slerp", "base"))
"""Paired in-format changes: (to, from) kinds of one family."""


def _per_variant(gens: pd.DataFrame, label: str, qids: list[str]) -> pd.DataFrame:
    g = gens[gens.variant == label].set_index("qid")
    return g.reindex(qids)


def _ended(g: pd.DataFrame) -> list[bool]:
    """The `ended` column (answers generated before it existed count as not ended: unknown is not in format)."""
    return [bool(x) if x is not None and x == x else False for x in g["ended"]] if "ended" in g else [False] * len(g)


def answer_quality(cfg: Config, gens: pd.DataFrame, wr: list[dict]) -> pd.DataFrame:
    e = cfg.evaluate
    qids = [q["qid"] for q in wr]
    rows = []
    for v in models.variants(cfg):
        g = _per_variant(gens, v.label, qids)
        answers = [a if isinstance(a, str) else "" for a in g["answer"]]
        s = quality.summarize(answers, _ended(g), wr, e.n_bootstrap, cfg.seed, f"quality-{v.label}", e.ci_level,
                              e.min_answer_words)
        rows.append({"variant": v.label, "family": v.family, "kind": v.kind, **s,
                     **{f"problem_{k.replace(' ', '_')}": n for k, n in quality.problem_counts(answers, e.min_answer_words).items()}})
    return pd.DataFrame(rows)


def format_changes(cfg: Config, gens: pd.DataFrame, wr: list[dict]) -> pd.DataFrame:
    """In-format share of `to` minus `from` over the same questions, with a paired bootstrap interval."""
    e = cfg.evaluate
    qids = [q["qid"] for q in wr]

    def fmt(label):
        g = _per_variant(gens, label, qids)
        answers = [a if isinstance(a, str) else "" for a in g["answer"]]
        return np.array([quality.in_format(a, x, e.min_answer_words) for a, x in zip(answers, _ended(g))], float)

    rows = []
    for fam in dict.fromkeys(v.family for v in models.variants(cfg) if v.kind == "base"):
        label = {"base": fam, "cpt": f"{fam}-cpt", "slerp": f"{fam}-slerp"}
        for to, frm in CHANGES:
            d = winrate.paired_diff(fmt(label[to]), fmt(label[frm]), e.n_bootstrap, cfg.seed,
                                    f"format-{fam}-{to}-{frm}", e.ci_level)
            rows.append({"family": fam, "change": f"{to}_vs_{frm}", **d})
    return pd.DataFrame(rows)


def general_scores(cfg: Config, ll: pd.DataFrame, recs: dict[str, dict]) -> pd.DataFrame:
    """General-question accuracy (0-shot, percentile bootstrap CI over questions) and held-out general
    perplexity (from each variant's done record) with its ratio to the family's base model."""
    e = cfg.evaluate
    rows = []
    for v in models.variants(cfg):
        x = ll[(ll.variant == v.label) & (ll.group == "general") & (ll.num_fewshot == 0)] if len(ll) else ll
        acc = x["acc"].to_numpy(float) if len(x) else np.array([])
        lo, hi = mean_ci(acc, e.n_bootstrap, cfg.seed, "general", v.label, level=e.ci_level)
        ppl = recs.get(v.label, {}).get("ppl_general")
        base = recs.get(v.family, {}).get("ppl_general") if v.kind != "reference" else None
        rows.append({"variant": v.label, "family": v.family, "kind": v.kind, "n": len(acc),
                     "acc": float(acc.mean()) if len(acc) else np.nan, "acc_lo": lo, "acc_hi": hi,
                     "ppl_general": np.nan if ppl is None else float(ppl),
                     "ppl_general_ratio": float(ppl) / float(base) if ppl is not None and base else np.nan})
    return pd.DataFrame(rows)


def weight_cosines(cfg: Config) -> pd.DataFrame:
    """Per small family: CPT and SLERP weights against the base's, cosine per tensor group."""
    rows = []
    vs = models.variants(cfg)
    base = {v.family: v for v in vs if v.kind == "base"}
    for v in vs:
        if v.kind in ("cpt", "slerp"):
            for group, r in weights.folder_cosines(base[v.family].path, v.path).items():
                rows.append({"variant": v.label, "family": v.family, "kind": v.kind, "group": group,
                             "cosine": r["mean"], "cosine_min": r["min"], "n_tensors": r["n_tensors"]})
    return pd.DataFrame(rows, columns=["variant", "family", "kind", "group", "cosine", "cosine_min", "n_tensors"])
