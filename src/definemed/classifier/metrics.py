"""Pure metric functions on labels and scores: F-beta, the threshold sweep, bootstrap intervals.

No model and no I/O here, so each is tested against scikit-learn on random cases.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed.errors import DefinemedError


def _confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int]:
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    if y_true.shape != y_pred.shape:
        raise DefinemedError(f"labels: y_true has shape {y_true.shape}, y_pred {y_pred.shape}")
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    return tp, fp, fn


def fbeta_from_counts(tp: int, fp: int, fn: int, beta: float) -> float:
    """(1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp); 0 when there is no positive at all (sklearn's zero_division=0)."""
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * fn + fp
    return float((1 + b2) * tp / denom) if denom > 0 else 0.0


def fbeta(y_true, y_pred, beta: float) -> float:
    """F-beta of binary predictions (positive class 1). beta < 1 weights precision above recall."""
    if beta <= 0:
        raise DefinemedError(f"fbeta: beta must be > 0 (got {beta})")
    return fbeta_from_counts(*_confusion(y_true, y_pred), beta)


def precision_recall(y_true, y_pred) -> tuple[float, float]:
    """Precision and recall of the positive class; 0 where undefined (sklearn's zero_division=0)."""
    tp, fp, fn = _confusion(y_true, y_pred)
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


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
    tp, fp, fn = _confusion(y_true, y_pred)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"threshold": float(threshold), "precision": p, "recall": r, "fbeta": fbeta_from_counts(tp, fp, fn, beta),
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
    if len(y) == 0:
        raise DefinemedError("bootstrap: no labelled documents to evaluate")
    g = np.random.default_rng(seed)
    idx = g.integers(0, len(y), size=(n_boot, len(y)))
    yb, pb = y[idx], pred[idx]
    tp = (yb & pb).sum(1)
    fp = (~yb & pb).sum(1)
    fn = (yb & ~pb).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        rec = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        b2 = beta * beta
        den = (1 + b2) * tp + b2 * fn + fp
        fb = np.where(den > 0, (1 + b2) * tp / np.maximum(den, 1), 0.0)
    point = at_threshold(y, scores, threshold, beta)
    out = dict(point)
    for name, arr in (("precision", prec), ("recall", rec), ("fbeta", fb)):
        lo, hi = np.quantile(arr, [alpha / 2, 1 - alpha / 2])
        out[f"{name}_lo"], out[f"{name}_hi"] = float(lo), float(hi)
    out["n_bootstrap"], out["beta"] = int(n_boot), float(beta)
    return out
