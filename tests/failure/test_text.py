"""Sentences (SoMaJo plus the clinical-abbreviation rule) and the German word lists."""
from __future__ import annotations

import pytest

from definemed.errors import DefinemedError
from definemed.failure.text import is_abbreviation, plain, sentence_tokens, sentences


@pytest.mark.parametrize("text", [
    "Wir übernahmen den Pat. am Abend auf die Station.",
    "Die Aufnahme erfolgte vom 1. Juli bis zum 3. August auf unsere Station.",
    "Es zeigten sich Rigor u. Tremor beidseits.",
    "Er befand sich in unserer stat. Behandlung.",
    "Die re. Hand war geschwollen.",
    "Abdomen weich, Darmgeräusche unauff. und regelrecht.",
])
def test_abbreviations_and_ordinals_do_not_end_a_sentence(text):
    assert sentences(text) == [text]


def test_sentences_end_at_full_stops_and_line_breaks():
    assert sentences("Der Befund war gut. Die Patientin wurde entlassen.\nDiagnosen\nHypertonie") == [
        "Der Befund war gut.", "Die Patientin wurde entlassen.", "Diagnosen", "Hypertonie"]
    assert sentences("") == [] and sentences(" \n ") == []


@pytest.mark.parametrize("word,expected", [("unauff", True), ("geringgr", True), ("re", True), ("Pat", True),
                                           ("gut", False), ("Befund", False), ("durchgefürhrt", False)])
def test_is_abbreviation(word, expected):
    assert is_abbreviation(word) is expected


def test_plain_blanks_urls_and_email_addresses():
    (s, toks), = sentence_tokens("Schreiben Sie an info@klinik-beispiel.de oder https://example.org/kontakt heute.")
    p = plain(s, toks)
    assert "@" not in p and "https" not in p and len(p) == len(s) and p.startswith("Schreiben Sie an")


def test_german_words_read_debians_dictionaries():
    from definemed.failure.lexicon import german_words

    de = german_words()
    for w in ("Bolus", "Epikrise", "Konsil", "Jänner", "regelmässig", "Hypertonie"):
        assert w in de, w  # de_med (Bolus, Epikrise), de_AT (Jänner), de_CH (regelmässig)
    for w in ("lntensivstation", "Tropponin", "durchgefürhrt"):
        assert w not in de, w
    assert de.as_written("Hotel") and not de.as_written("hotel")


def test_missing_dictionary_is_a_one_line_error(tmp_path, monkeypatch):
    from definemed.failure.lexicon import load_hunspell

    monkeypatch.setenv("DEFINEMED_HUNSPELL_DIR", str(tmp_path))
    with pytest.raises(DefinemedError, match="de_DE.aff.*make setup"):
        load_hunspell("de_DE")
