"""Pure metric functions on labels and scores: F-beta, the threshold sweep, bootstrap intervals.

No model and no I/O here, so each is tested against scikit-learn on random cases.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed import numerics
from definemed.errors import DefinemedError


def fbeta_from_counts(tp: int, fp: int, fn: int, beta: float) -> float:
    """(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp); 0 when there is no positive at all (numerics' rule)."""
    return numerics.rates(tp, fp, fn, beta=beta)["fbeta"]


def fbeta(y_true, y_pred, beta: float) -> float:
    """F-beta of binary predictions (positive class 1). beta < 1 weights precision above recall."""
    tp, fp, fn, _ = numerics.confusion(y_true, y_pred)
    return numerics.rates(tp, fp, fn, beta=beta)["fbeta"]


def precision_recall(y_true, y_pred) -> tuple[float, float]:
    """Precision and recall of the positive class; 0 where undefined (numerics' rule)."""
    r = numerics.rates(*numerics.confusion(y_true, y_pred)[:3])
    return r["precision"], r["recall"]


def check_threshold(threshold: float, what: str = "threshold") -> float:
    """A decision threshold must lie strictly inside (0, 1): 0 keeps everything, 1 keeps nothing."""
    t = float(threshold)
    if not (0.0 < t < 1.0) or np.isnan(t):
        raise DefinemedError(f"{what}: must be strictly between 0 and 1 (got {threshold})")
    return t


def at_threshold(y_true, scores, threshold: float, beta: float) -> dict:
    """Precision, recall and F-beta when predicting medical for score >= threshold."""
    check_threshold(threshold)
    y_pred = np.asarray(scores) >= threshold
    tp, fp, fn, _ = numerics.confusion(y_true, y_pred)
    r = numerics.rates(tp, fp, fn, beta=beta)
    return {"threshold": float(threshold), "precision": r["precision"], "recall": r["recall"], "fbeta": r["fbeta"],
            "n": int(len(y_pred)), "n_positive": int(np.sum(np.asarray(y_true) == 1)), "n_predicted": int(y_pred.sum())}


def threshold_sweep(y_true, scores, beta: float, thresholds=None) -> pd.DataFrame:
    """Precision, recall and F-beta for each threshold (default 0.01 ... 0.99)."""
    thresholds = np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None else thresholds
    return pd.DataFrame([at_threshold(y_true, scores, t, beta) for t in thresholds])


def bootstrap_ci(y_true, scores, threshold: float, beta: float, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> dict:
    """Point estimates and percentile bootstrap intervals (resampling documents) of precision, recall, F-beta."""
    y = np.asarray(y_true).astype(bool)
    pred = np.asarray(scores) >= check_threshold(threshold)
    idx = numerics.bootstrap_indices(len(y), n_boot, seed, "classifier")
    yb, pb = y[idx], pred[idx]
    m = numerics.rates((yb & pb).sum(1), (~yb & pb).sum(1), (yb & ~pb).sum(1), beta=beta)
    out = dict(at_threshold(y, scores, threshold, beta))
    for name in ("precision", "recall", "fbeta"):
        out[f"{name}_lo"], out[f"{name}_hi"] = numerics.percentile_ci(m[name], 1 - alpha)
    out["n_bootstrap"], out["beta"] = int(n_boot), float(beta)
    return out
