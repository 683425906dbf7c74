"""The lexicon stand-in's matching rules: compounds found, risky short stems kept out of ordinary words."""
from __future__ import annotations

import pytest

from definemed.errors import DefinemedError
from definemed.labeling.backends.lexicon import Lexicon

LEXICON = "src/definemed/labeling/lexicon_de.txt"


@pytest.fixture(scope="module")
def lx():
    return Lexicon.load(LEXICON)


@pytest.mark.parametrize("word, term", [
    ("atmungstherapie", "~therapie"), ("intensivpflege", "~pflege"), ("hausarzt", "~arzt"),
    ("fachärztin", "~ärzt"), ("augenklinik", "~klinik"), ("allgemeinmedizin", "~medizin"),
    ("unfallchirurgie", "~chirurg"), ("herzinfarkt", "~infarkt"), ("lungenembolie", "^lunge"),
    ("nierensteine", "^niere"), ("magenschleimhaut", "^magen"), ("rezeptpflichtig", "^rezept"),
    ("lungen", "^lunge"), ("behandlung", "behandl"), ("organ", "=organ"),
])
def test_compound_medical_terms_are_found(lx, word, term):
    assert lx.term_of(word)[0] == term


@pytest.mark.parametrize("word", ["verhandlungen", "funktionieren", "magento", "rezeption", "handlungen",
                                  "definieren", "lungern", "magenta", "kombinieren", "handelskammer"])
def test_risky_stems_do_not_match_ordinary_words(lx, word):
    assert lx.term_of(word) is None


def test_score_counts_compounds_in_running_text(lx):
    s, n, hits = lx.score("Die Intensivpflege und die Atmungstherapie der Patientin übernimmt das Team.")
    assert n == 10 and hits["~pflege"] == 1 and hits["~therapie"] == 1 and s > 0
    assert lx.score("Die Verhandlungen in Magento funktionieren an der Rezeption.")[0] == 0


def test_malformed_lexicon_line_names_file_and_line(tmp_path):
    bad = tmp_path / "lex.txt"
    bad.write_text("# comment\ntherap\t2.0\n^\t1.0\n", encoding="utf-8")
    with pytest.raises(DefinemedError, match=r"lex.txt:3: term '\^' is not a word"):
        Lexicon.load(bad)
    bad.write_text("therap 2.0\n", encoding="utf-8")
    with pytest.raises(DefinemedError, match=r"lex.txt:1: expected 'term<TAB>weight'"):
        Lexicon.load(bad)
