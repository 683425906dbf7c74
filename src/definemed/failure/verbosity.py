"""Verbosity: length in words, sentences and characters, the ratio to the reference answer, and the
information density.

The reference answer of stage 07 is the reference model's answer to the same question: the length
ratio says how much longer (or shorter) a model answers than the larger general model. Per model,
`ratio_summary` gives the mean ratio with a bootstrap interval over questions; `paired_change` the
change from base to SLERP over the questions both answered. Empty answers (and questions whose
reference-model answer is empty or shorter than `min_ref_words`) are left out and counted.

Information density = distinct content words (not function words) per word of the answer: padding,
repetition and filler lower it. Reference coverage = share of the reference answer's content words the
answer contains: a long answer with high coverage is thorough, a long one with low coverage is padded.
An answer is verbose when it has at least `verbose_ratio` times the reference's words (or more than
`verbose_max_words` words when there is no reference of at least `verbose_min_ref_words` words).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed.config import FailureConfig
from definemed.failure.text import STOPWORDS, sentences, words
from definemed.failure.verdict import Verdict


def content_words(text: str) -> list[str]:
    return [w.lower() for w in words(text) if w.lower() not in STOPWORDS]


def measure(answer: str, reference: str | None = None, min_ref_words: int = 1) -> dict:
    """Length and density numbers of one answer (pure function)."""
    ws = words(answer)
    content = content_words(answer)
    out = {
        "n_words": len(ws), "n_sentences": len(sentences(answer)), "n_chars": len((answer or "").strip()),
        "density": len(set(content)) / len(ws) if ws else 0.0,
        "ref_words": None, "length_ratio": None, "ref_coverage": None,
    }
    rw = words(reference or "")
    if rw:
        rc = set(content_words(reference))
        out["ref_coverage"] = len(rc & set(content)) / len(rc) if rc else None
    if len(rw) >= min_ref_words:
        out["ref_words"] = len(rw)
        out["length_ratio"] = len(ws) / len(rw)
    return out


class VerbosityDetector:
    def __init__(self, cfg: FailureConfig):
        self.ratio = cfg.verbose_ratio
        self.max_words = cfg.verbose_max_words
        self.min_ref_words = cfg.verbose_min_ref_words

    def detect(self, answer: str, reference: str | None = None) -> Verdict:
        m = measure(answer, reference, self.min_ref_words)
        if m["n_words"] == 0:
            return Verdict(False, status="empty", details=m)
        if m["length_ratio"] is not None:
            flag = m["length_ratio"] >= self.ratio
            why = f"{m['n_words']} words = {m['length_ratio']:.1f}x the reference's {m['ref_words']}"
        else:
            flag = m["n_words"] > self.max_words
            why = f"{m['n_words']} words (no reference; limit {self.max_words})"
        ev = [f"{why}; density {m['density']:.2f}"] if flag else []
        return Verdict(flag, ev, details=m)


def _usable(det: pd.DataFrame) -> pd.Series:
    """Rows whose answer is non-empty and whose length ratio is defined (a usable reference answer)."""
    return (det["n_words"] > 0) & det["length_ratio"].notna()


def ratio_summary(det: pd.DataFrame, n_boot: int, seed: int, level: float = 0.95) -> pd.DataFrame:
    """Per model: mean length ratio to the reference model's answer with a percentile bootstrap
    interval over questions, the answers used, and those left out (empty answer / no usable reference)."""
    from definemed.numerics import mean_ci

    rows = []
    for model, d in det.groupby("model", sort=False):
        ok = d[_usable(d)]
        lo, hi = mean_ci(ok["length_ratio"].to_numpy(float), n_boot, seed, "verbosity", model, level=level)
        rows.append({"model": model, "length_ratio": float(ok["length_ratio"].mean()) if len(ok) else np.nan,
                     "length_ratio_lo": lo, "length_ratio_hi": hi, "n_used": len(ok),
                     "n_empty": int((d["n_words"] == 0).sum()),
                     "n_no_reference": int(((d["n_words"] > 0) & d["length_ratio"].isna()).sum())})
    return pd.DataFrame(rows)


def paired_change(det: pd.DataFrame, base: str, other: str, n_boot: int, seed: int, level: float = 0.95) -> dict:
    """Mean change of the length ratio from model `base` to model `other` over the questions where both
    ratios are defined, with a paired bootstrap interval; n = those questions."""
    from definemed.evaluation.winrate import paired_diff

    a = det[(det["model"] == other) & _usable(det)].set_index("question_id")["length_ratio"]
    b = det[(det["model"] == base) & _usable(det)].set_index("question_id")["length_ratio"]
    common = sorted(set(a.index) & set(b.index))
    if not common:
        return {"diff": np.nan, "diff_lo": np.nan, "diff_hi": np.nan, "n": 0}
    d = paired_diff(a.loc[common].to_numpy(float), b.loc[common].to_numpy(float), n_boot, seed,
                    f"verbosity-{other}-{base}", level)
    return {**d, "n": len(common)}
