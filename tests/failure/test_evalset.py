"""The labelled detector-quality sets: labels are right, and the detectors clear golden floors."""
from __future__ import annotations

from definemed.failure import evalset


def test_mixing_set_labels(tiny_cfg):
    items = evalset.mixing_set(tiny_cfg, 60, seed=5)
    assert len(items) == 60 and {i["kind"] for i in items} >= {"english_sentence", "english_fragment", "german"}
    for it in items:
        assert (it["label"] == 1) == it["kind"].startswith("english")
        assert it["planted"] in it["text"] or it["kind"] == "german"
        if it["kind"] == "english_fragment":
            assert len(it["planted"].split()) >= tiny_cfg.failure.min_span_words
    assert evalset.mixing_set(tiny_cfg, 60, seed=5) == items


def test_typo_set_plants_with_the_corpus_noise_function(tiny_cfg):
    items = evalset.typo_set(tiny_cfg, 40, seed=5)
    planted = [p for it in items for p in it["planted"]]
    eligible = sum(it["eligible"] for it in items)
    assert planted and all(p in it["text"] for it in items for p in it["planted"])
    assert 0.01 < len(planted) / eligible < 0.15


def test_detector_quality_floors(tiny_cfg, lang, small_config):
    """Golden floors measured on the tiny profile (precision 1.0, recall ~0.95 at n=400); a change to
    the detectors that drops below these fails here. The typo allow-list comes from a small corpus."""
    from definemed.config import load_config
    from tests.conftest import make_corpus
    from definemed.failure.terms import load_terms
    from definemed.failure.typos import TypoDetector

    small = load_config(small_config)
    make_corpus(small)
    typos = TypoDetector(tiny_cfg.failure, load_terms(small))
    mix, _ = evalset.evaluate_mixing(lang, evalset.mixing_set(tiny_cfg, 120, seed=11))
    assert mix["precision"] >= 0.95 and mix["recall"] >= 0.85
    assert mix["flag_rate_medical_latin"] == 0.0
    ty, _ = evalset.evaluate_typos(typos, evalset.typo_set(small, 120, seed=11))
    assert ty["precision"] >= 0.9 and ty["recall"] >= 0.85
    assert evalset.false_positives_on(lang, evalset.REAL_DE)["flagged"] == 0
    assert evalset.false_positives_on(typos, evalset.REAL_DE)["flagged"] <= 1
