"""The statistics every stage shares: one definition each, so two tables never disagree on a rule.

- `confusion` / `rates`: precision, recall, F1, F-beta and Cohen's kappa from counts. One
  zero-division rule everywhere: a ratio whose denominator is 0 is 0.0 (scikit-learn's
  `zero_division=0`); kappa is 1.0 when chance agreement is 1 (both raters constant and equal).
  Works on scalars and, element-wise, on arrays of bootstrap counts.
- `bootstrap`: a statistic on resamples of the items (with replacement), drawn from the seeded stream
  `definemed.seed.rng(seed, "bootstrap", *stream)`; `percentile_ci` turns the samples into an interval.
- `mean_ci`: the percentile interval of a mean (accuracy over questions, for example).
Perplexity lives in `definemed.lm_metrics.perplexity` (it needs a model).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from definemed.errors import DefinemedError
from definemed.seed import rng


def confusion(y_true, y_pred) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of binary labels (truthy = positive)."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    if t.shape != p.shape:
        raise DefinemedError(f"labels: y_true has shape {t.shape}, y_pred {p.shape}")
    return int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()), int((~t & ~p).sum())


def _ratio(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def rates(tp, fp, fn, tn=None, beta: float = 1.0) -> dict:
    """precision, recall, f1, fbeta (and kappa when tn is given); floats for scalar counts."""
    if beta <= 0:
        raise DefinemedError(f"fbeta: beta must be > 0 (got {beta})")
    b2 = beta * beta
    out = {"precision": _ratio(tp, np.add(tp, fp)), "recall": _ratio(tp, np.add(tp, fn)),
           "f1": _ratio(np.multiply(2, tp), np.add(np.multiply(2, tp), np.add(fp, fn))),
           "fbeta": _ratio(np.multiply(1 + b2, tp), np.multiply(1 + b2, tp) + np.multiply(b2, fn) + np.asarray(fp))}
    if tn is not None:
        tp_, fp_, fn_, tn_ = (np.asarray(x, dtype=float) for x in (tp, fp, fn, tn))
        n = tp_ + fp_ + fn_ + tn_
        with np.errstate(invalid="ignore", divide="ignore"):
            po = _ratio(tp_ + tn_, n)
            pe = _ratio((tp_ + fp_) * (tp_ + fn_) + (fn_ + tn_) * (fp_ + tn_), n ** 2)
            out["kappa"] = np.where(pe < 1, (po - pe) / np.where(pe < 1, 1 - pe, 1.0), 1.0)
    return {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}


def bootstrap_indices(n: int, n_boot: int, seed: int, *stream: str | int) -> np.ndarray:
    """(n_boot, n) item indices drawn with replacement from the seeded stream of `stream`."""
    if n <= 0:
        raise DefinemedError("bootstrap: no items to resample")
    return rng(seed, "bootstrap", *stream).integers(0, n, size=(n_boot, n))


def bootstrap(stat: Callable[[np.ndarray], float], n: int, n_boot: int, seed: int, *stream: str | int) -> np.ndarray:
    """`stat(idx)` on n_boot resamples of item indices."""
    return np.array([stat(row) for row in bootstrap_indices(n, n_boot, seed, *stream)], dtype=float)


def percentile_ci(samples, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples (non-finite samples ignored; NaN if none)."""
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if not len(s):
        return float("nan"), float("nan")
    lo, hi = np.percentile(s, [50 * (1 - level), 100 - 50 * (1 - level)])
    return float(lo), float(hi)


def mean_ci(values, n_boot: int, seed: int, *stream: str | int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (NaN, NaN for no values)."""
    v = np.asarray(values, dtype=float)
    if not len(v):
        return float("nan"), float("nan")
    return percentile_ci(v[bootstrap_indices(len(v), n_boot, seed, *stream)].mean(1), level)
