"""Typos: planted misspellings are found, medical terminology is not counted."""
from __future__ import annotations

from collections import Counter

import pytest

from definemed.failure.terms import derive_allowlist, load_terms


@pytest.mark.parametrize("word", ["Behandlnug", "Untersuhcung", "Kranknhaus", "Thrapie", "Patietnen",
                                  "Wechelwirkungen", "Leitliniie", "Nierenfunktionsstörnug"])
def test_planted_typos_are_flagged(typos, word):
    assert typos.check_word(word)


@pytest.mark.parametrize("word", ["Metoprolol", "Ibuprofen", "Lungenfunktionsprüfung", "Schilddrüsenunterfunktion",
                                  "Arteria", "carotis", "Mediastinum", "Betablockern", "Appendizitis",
                                  "Hypoglykämie", "EKG", "Kontrolluntersuchung", "Vorhofflimmern"])
def test_correct_medical_terms_are_not_typos(typos, word):
    assert not typos.check_word(word)


def test_fact_bank_names_are_terms_but_their_misspellings_are_not(typos, bank):
    drug = bank.drugs[3]
    assert not typos.check_word(drug)
    wrong = drug[:3] + drug[4] + drug[3] + drug[5:]  # swap two letters
    assert wrong != drug and typos.check_word(wrong)
    disease = bank.diseases[0]
    misspelt = disease[:-2] + "q" + disease[-1]
    text = f"{disease} betrifft vor allem die Leber. Ein anderer Name ist {misspelt}."
    v = typos.detect(text)
    assert v.details["n_typos"] == 1


def test_answer_verdict_and_evidence(typos):
    v = typos.detect("Die Behandlnug mit Metoprolol ist gut verträglich. Die Dosirung richtet sich nach dem Gewicht.")
    assert v.flag and v.details["typos"] == ["Behandlnug", "Dosirung"]
    assert "Dosirung" in v.evidence[1] and "Gewicht" in v.evidence[1]
    assert not typos.detect("Die Behandlung mit Metoprolol ist gut verträglich.").flag
    assert typos.detect("").status == "empty"
    assert not typos.detect("Это лекарство помогает.").flag  # another script: not a typo


def test_allowlist_keeps_frequent_terms_and_drops_recurring_misspellings():
    counts = Counter({"velorixan": 40, "patienten": 5000, "patientne": 12, "blutbildkontrolle": 9, "raretermx": 2})
    allow = derive_allowlist(counts, min_count=5, typo_ratio=20)
    assert "velorixan" in allow and "blutbildkontrolle" in allow
    assert "patientne" not in allow  # one edit from a word 400x more frequent
    assert "raretermx" not in allow  # too rare
    assert "patienten" not in allow  # the dictionary knows it already


def test_allowlist_from_corpus_is_cached(small_config, out_root):
    from definemed.config import load_config
    from tests.conftest import make_corpus

    cfg = load_config(small_config)
    make_corpus(cfg)
    terms = load_terms(cfg)
    assert terms.source == "00_corpus" and len(terms.corpus) > 20
    cache = out_root / "data" / "test" / "07_failure_analysis" / "allowlist.json"
    assert cache.exists()
    assert load_terms(cfg).corpus == terms.corpus


def test_allowlist_without_corpus_is_a_clear_error(small_config, out_root):
    from definemed.config import load_config
    from definemed.errors import DefinemedError

    with pytest.raises(DefinemedError, match="no corpus shards"):
        load_terms(load_config(small_config))


@pytest.mark.parametrize("text", [
    "Abdomen weich, Darmgeräusche unauff., Milz geringgr. vergrößert, Befund fragl. insusp.",
    "Medikation: Pantozol 40 mg 1-0-0, Lovenox 40 mg s.c., Paspertin 10 mg bei Bedarf.",
    "Wir berichten über Ihre Patientin Beate Albers, die sich in unserer Behandlung befand.",
    "Die Epikrise wurde dem Konsil übergeben, der Bolus gut vertragen; hilär kein Befund.",
    "Im Jänner zeigte sich die Grösse des Befundes regelmässig unverändert.",
])
def test_real_clinical_german_is_not_a_typo(typos, text):
    v = typos.detect(text)
    assert v.details["n_typos"] == 0, v.details["typos"]


def test_genuine_ocr_errors_in_a_letter_are_caught(typos):
    v = typos.detect("Die Patientin wurde auf die lntensivstation verlegt, die Untersuchung wurde durchgefürhrt.")
    assert v.details["typos"] == ["lntensivstation", "durchgefürhrt"]
