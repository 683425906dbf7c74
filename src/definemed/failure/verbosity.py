"""Verbosity: length in words, sentences and characters, the ratio to the reference answer, and the
information density.

Information density = distinct content words (not function words) per word of the answer: padding,
repetition and filler lower it. Reference coverage = share of the reference answer's content words the
answer contains: a long answer with high coverage is thorough, a long one with low coverage is padded.
An answer is verbose when it has at least `verbose_ratio` times the reference's words (or more than
`verbose_max_words` words when there is no reference of at least `verbose_min_ref_words` words).
"""
from __future__ import annotations

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
