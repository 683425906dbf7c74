"""Agreement of the annotator with the expert labels: precision, recall, F1 and Cohen's kappa with
seeded percentile-bootstrap intervals over the expert documents, and the confusion matrix.

Pure functions on label arrays. Invalid annotator labels (-1) count as 'not medical': the filter
downstream keeps only documents labelled medical, so an invalid answer costs recall, and the table
reports how many there were.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed import numerics, tables
from definemed.errors import DefinemedError

METRICS = ("precision", "recall", "f1", "kappa")


def scores(y_true, y_pred) -> dict[str, float]:
    """Point estimates for binary labels (1 = medical)."""
    r = numerics.rates(*numerics.confusion(np.asarray(y_true) == 1, np.asarray(y_pred) == 1))
    return {k: r[k] for k in METRICS}


def bootstrap(y_true, y_pred, n_boot: int, ci: float, seed: int) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each metric over `n_boot` resamples of the documents (seeded)."""
    t, p = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    idx = numerics.bootstrap_indices(len(t), n_boot, seed, "label")
    tb, pb = t[idx], p[idx]
    m = numerics.rates((tb & pb).sum(1), (~tb & pb).sum(1), (tb & ~pb).sum(1), (~tb & ~pb).sum(1))
    return {k: numerics.percentile_ci(m[k], ci) for k in METRICS}


def confusion(y_true, y_pred) -> pd.DataFrame:
    """Rows: expert label; columns: annotator label (invalid kept as its own column)."""
    df = pd.DataFrame({"expert": np.where(np.asarray(y_true) == 1, "medical", "not medical"),
                       "annotator": pd.Series(np.asarray(y_pred)).map({1: "medical", 0: "not medical", -1: "invalid"})})
    cm = pd.crosstab(df["expert"], df["annotator"]).reindex(
        index=["medical", "not medical"], columns=["medical", "not medical", "invalid"], fill_value=0)
    cm.index.name, cm.columns.name = "expert \\ annotator", None
    return cm


def agreement(labels: pd.DataFrame, experts: pd.DataFrame, n_boot: int = 1000, ci: float = 0.95,
              seed: int = 0) -> dict:
    """Join annotator labels and expert labels on id; metrics, intervals, confusion, counts.

    Also the second expert against the first (label_b vs label_a) where the file has both: the
    human ceiling the annotator is judged against.
    """
    m = experts.merge(labels[["id", "label"]].rename(columns={"label": "pred"}), on="id", how="left")
    if m["pred"].isna().any():
        raise DefinemedError(f"labels: {int(m['pred'].isna().sum())} expert-annotated documents were not labelled")
    y, pred = m["label"].to_numpy(), m["pred"].to_numpy().astype(int)
    out = {"n": len(m), "n_invalid": int((pred == -1).sum()), "expert_medical_share": float((y == 1).mean()),
           "point": scores(y, pred), "ci": bootstrap(y, pred, n_boot, ci, seed), "confusion": confusion(y, pred),
           "ci_level": ci, "n_boot": n_boot}
    if {"label_a", "label_b"} <= set(m.columns):
        out["human"] = scores(m["label_a"], m["label_b"])
        out["human_ci"] = bootstrap(m["label_a"], m["label_b"], n_boot, ci, seed)
    return out


def agreement_table(agr: dict, annotator: str, n_labelled: int) -> pd.DataFrame:
    """Ours beside the paper's (label.f1 = 91.1 ± 2.5 for F1 in percent)."""
    lvl = f"{agr['ci_level']:.0%}"

    def fmt(key, scale=1.0, src="point", ci="ci"):
        v, (lo, hi) = agr[src][key] * scale, agr[ci][key]
        return f"{v:.1f} [{lo * scale:.1f}, {hi * scale:.1f}]" if scale != 1 else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    rows = [
        {"quantity": "annotator", "ours": annotator, "paper_key": "label.annotator"},
        {"quantity": "documents labelled", "ours": n_labelled, "paper_key": "label.n_docs"},
        {"quantity": "expert-annotated documents", "ours": agr["n"]},
        {"quantity": f"F1 (%) vs experts [{lvl} CI]", "ours": fmt("f1", 100), "paper_key": "label.f1"},
        {"quantity": f"precision [{lvl} CI]", "ours": fmt("precision")},
        {"quantity": f"recall [{lvl} CI]", "ours": fmt("recall")},
        {"quantity": f"Cohen's kappa [{lvl} CI]", "ours": fmt("kappa")},
        {"quantity": "invalid answers among expert docs", "ours": agr["n_invalid"]},
    ]
    if "human" in agr:
        rows += [
            {"quantity": f"second expert vs first: F1 (%) [{lvl} CI]", "ours": fmt("f1", 100, "human", "human_ci")},
            {"quantity": f"second expert vs first: kappa [{lvl} CI]", "ours": fmt("kappa", 1.0, "human", "human_ci")},
        ]
    return tables.comparison(rows)
