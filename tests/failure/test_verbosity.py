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


def _rows(model, ratios):
    """Detections of one model: ratio None = no usable reference answer, 0 words = empty answer."""
    import numpy as np

    return [{"model": model, "question_id": f"q{i}", "n_words": 0 if r == 0 else 5,
             "length_ratio": np.nan if r is None else r} for i, r in enumerate(ratios)]


def test_ratio_summary_leaves_out_and_counts_empty_answers():
    import pandas as pd

    from definemed.failure.verbosity import ratio_summary

    det = pd.DataFrame(_rows("base", [1.0, 1.0, 0, None, 1.0]) + _rows("slerp", [2.0, 3.0, 2.5, 2.0, 0]))
    s = ratio_summary(det, 200, 0).set_index("model")
    assert s.loc["base", "length_ratio"] == 1.0 and s.loc["base", "n_used"] == 3
    assert s.loc["base", "n_empty"] == 1 and s.loc["base", "n_no_reference"] == 1
    assert s.loc["slerp", "length_ratio"] == 2.375 and s.loc["slerp", "n_empty"] == 1
    assert 2.0 <= s.loc["slerp", "length_ratio_lo"] <= 2.375 <= s.loc["slerp", "length_ratio_hi"] <= 3.0


def test_paired_change_uses_questions_both_answered():
    import pandas as pd

    from definemed.failure.verbosity import paired_change

    det = pd.DataFrame(_rows("base", [1.0, 1.0, 0, None, 1.0]) + _rows("slerp", [2.0, 3.0, 2.5, 2.0, 0]))
    c = paired_change(det, "base", "slerp", 200, 0)
    assert c["n"] == 2 and c["diff"] == 1.5 and 1.0 <= c["diff_lo"] <= c["diff_hi"] <= 2.0
    assert paired_change(det, "base", "nobody", 200, 0)["n"] == 0
