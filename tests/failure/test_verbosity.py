"""Verbosity: length, ratio to the reference and information density on written German answers."""
from __future__ import annotations

from definemed.failure.verbosity import VerbosityDetector, measure

REFERENCE = "Metoprolol ist ein Betablocker und senkt Herzfrequenz und Blutdruck."
TERSE = "Metoprolol ist ein Betablocker; er senkt Puls und Blutdruck."
VERBOSE = (TERSE + " Grundsätzlich ist es sehr wichtig, dass man das im Auge behält. Es ist eben so, dass es "
           "wichtig ist. Man sollte das wirklich im Auge behalten, denn es ist wichtig. Das ist eben so, und "
           "man sollte es beachten. Grundsätzlich ist es sehr wichtig, dass man das beachtet.")


def test_measure_counts_words_sentences_characters():
    m = measure(TERSE, REFERENCE)
    assert m["n_words"] == 9 and m["n_sentences"] == 1 and m["n_chars"] == len(TERSE)
    assert m["ref_words"] == 9 and abs(m["length_ratio"] - 1.0) < 1e-9


def test_verbose_answer_is_flagged_terse_is_not(tiny_cfg):
    det = VerbosityDetector(tiny_cfg.failure)
    v = det.detect(VERBOSE, REFERENCE)
    t = det.detect(TERSE, REFERENCE)
    assert v.flag and not t.flag
    assert v.details["length_ratio"] >= tiny_cfg.failure.verbose_ratio
    assert "x the reference" in v.evidence[0]
    # padding lowers information density; the terse answer covers the reference about as well
    assert v.details["density"] < t.details["density"]
    assert t.details["ref_coverage"] >= 0.5


def test_without_usable_reference_the_absolute_limit_applies(tiny_cfg):
    det = VerbosityDetector(tiny_cfg.failure.model_copy(update={"verbose_max_words": 30}))
    assert det.detect(VERBOSE, None).flag
    assert det.detect(VERBOSE, "Betablocker").flag  # one-word reference: no ratio
    assert det.detect(VERBOSE, "Betablocker").details["length_ratio"] is None
    assert det.detect(VERBOSE, "Betablocker").details["ref_coverage"] == 1.0
    assert not det.detect(TERSE, None).flag


def test_empty_answer(tiny_cfg):
    v = VerbosityDetector(tiny_cfg.failure).detect("", REFERENCE)
    assert v.status == "empty" and not v.flag and v.details["n_words"] == 0
