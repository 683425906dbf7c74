"""Win rates against the reference model: pair rules and seeded bootstrap intervals (pure functions).

Each question is judged twice: order "ab" shows the candidate model's answer as A and the reference
model's as B; order "ba" swaps them. FastChat's rule: the candidate wins only if both orders prefer it,
loses only if both prefer the reference; any disagreement (including win vs tie) is a tie. A pair with
an unparseable judgment in either order is `invalid`: counted and reported, left out of N, never a
silent loss or zero.
"""
from __future__ import annotations

import numpy as np

from definemed.numerics import bootstrap, percentile_ci

OUTCOMES = ("win", "tie", "loss", "invalid")


def from_candidate(verdict: str | None, order: str) -> str | None:
    """A position verdict ("A" / "B" / "tie" / None) seen from the candidate: "cand", "ref", "tie", None."""
    if verdict is None:
        return None
    if verdict == "tie":
        return "tie"
    if order not in ("ab", "ba"):
        raise ValueError(f"order must be 'ab' or 'ba', got {order!r}")
    cand_pos = "A" if order == "ab" else "B"
    return "cand" if verdict == cand_pos else "ref"


def pair_outcome(verdict_ab: str | None, verdict_ba: str | None) -> str:
    """Combine the two position-swapped verdicts of one question into win / tie / loss / invalid."""
    x, y = from_candidate(verdict_ab, "ab"), from_candidate(verdict_ba, "ba")
    if x is None or y is None:
        return "invalid"
    if x == y == "cand":
        return "win"
    if x == y == "ref":
        return "loss"
    return "tie"


def counts(outcomes: list[str]) -> dict[str, int]:
    c = {k: 0 for k in OUTCOMES}
    for o in outcomes:
        if o not in c:
            raise ValueError(f"unknown outcome {o!r}")
        c[o] += 1
    c["n"] = c["win"] + c["tie"] + c["loss"]
    return c


def rates(outcomes: list[str]) -> dict[str, float]:
    """W/N and (W + T/2)/N over the valid pairs (N excludes invalid pairs); NaN if N = 0."""
    c = counts(outcomes)
    n = c["n"]
    return {"win_rate": c["win"] / n if n else float("nan"),
            "score": (c["win"] + c["tie"] / 2) / n if n else float("nan")}


def _codes(outcomes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o = np.asarray(outcomes)
    return (o == "win").astype(float), (o == "tie").astype(float), (o != "invalid").astype(float)


def summarize(outcomes: list[str], n_boot: int, seed: int, stream: str, level: float = 0.95) -> dict:
    """Counts, W/N, (W+T/2)/N and their bootstrap percentile intervals over questions."""
    w, t, v = _codes(outcomes)

    def wr(i):
        n = v[i].sum()
        return w[i].sum() / n if n else np.nan

    def sc(i):
        n = v[i].sum()
        return (w[i].sum() + t[i].sum() / 2) / n if n else np.nan

    out = {**counts(outcomes), **rates(outcomes)}
    n = len(outcomes)
    if n:
        out["win_rate_lo"], out["win_rate_hi"] = percentile_ci(bootstrap(wr, n, n_boot, seed, stream, "wr"), level)
        out["score_lo"], out["score_hi"] = percentile_ci(bootstrap(sc, n, n_boot, seed, stream, "sc"), level)
    return out


def paired_ratio(adapted: list[str], base: list[str], n_boot: int, seed: int, stream: str,
                 key: str = "win_rate", level: float = 0.95) -> dict:
    """Ratio adapted / base of W/N (or score), with a paired bootstrap over the same questions."""
    if len(adapted) != len(base):
        raise ValueError("adapted and base must be judged on the same questions")
    wa, ta, va = _codes(adapted)
    wb, tb, vb = _codes(base)

    def stat(w, t, v, i):
        n = v[i].sum()
        if not n:
            return np.nan
        return (w[i].sum() + (t[i].sum() / 2 if key == "score" else 0)) / n

    def ratio(i):
        b = stat(wb, tb, vb, i)
        return stat(wa, ta, va, i) / b if b else np.nan

    def diff(i):
        return stat(wa, ta, va, i) - stat(wb, tb, vb, i)

    all_i = np.arange(len(adapted))
    point = ratio(all_i)
    rs = bootstrap(ratio, len(adapted), n_boot, seed, stream, "ratio", key)
    ds = bootstrap(diff, len(adapted), n_boot, seed, stream, "diff", key)
    lo, hi = percentile_ci(rs, level)
    dlo, dhi = percentile_ci(ds, level)
    return {"ratio": float(point), "ratio_lo": lo, "ratio_hi": hi, "diff": float(diff(all_i)),
            "diff_lo": dlo, "diff_hi": dhi, "ratio_undefined_share": float(np.mean(~np.isfinite(rs)))}


def paired_diff(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int, stream: str, level: float = 0.95) -> dict:
    """Mean difference a - b of per-question scores (e.g. correct 0/1) with a paired bootstrap interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError("paired scores must have the same shape")
    d = a - b
    lo, hi = percentile_ci(bootstrap(lambda i: d[i].mean(), len(d), n_boot, seed, stream, "pdiff"), level)
    return {"diff": float(d.mean()), "diff_lo": lo, "diff_hi": hi}
