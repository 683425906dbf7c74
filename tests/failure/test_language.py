"""Language mixing on German text written for these tests."""
from __future__ import annotations

import pytest


def test_german_with_an_english_sentence_is_mixed(lang):
    v = lang.detect("Die Patientin wurde gestern stationär aufgenommen. The patient was discharged after three "
                    "days. Zu Hause geht es ihr inzwischen deutlich besser.")
    assert v.flag and v.status == "ok"
    assert any("discharged" in e for e in v.evidence)
    assert v.details["languages"] == {"en": 1}


def test_english_fragment_inside_a_german_sentence_is_mixed(lang):
    v = lang.detect("Die Therapie ist, wie gesagt, the best option for most patients, meint die Ärztin.")
    assert v.flag and "best option" in v.evidence[0]


@pytest.mark.parametrize("text", [
    "Der Befund spricht für ein Ulcus ventriculi, der Patient erhält Pantoprazol.",
    "Sonographisch zeigt sich eine Stenose der Arteria carotis interna rechts.",
    "Bei Diabetes mellitus Typ 2 wird häufig Metformin verordnet, Status post Myokardinfarkt.",
    "Der Musculus quadriceps femoris ist nach der Operation deutlich atrophiert.",
])
def test_german_with_medical_latin_only_is_not_mixed(lang, text):
    v = lang.detect(text)
    assert not v.flag, v.evidence


def test_loanwords_and_invented_drug_names_do_not_count(lang, bank):
    drug = bank.drugs[0]
    v = lang.detect(f"Nach dem Screening folgt ein Follow-up. {drug} wird bei Herzrasen abgesetzt.")
    assert not v.flag, v.evidence


def test_pure_english_answer_is_mixed(lang):
    v = lang.detect("Beta blockers reduce the heart rate. They are often used after a heart attack.")
    assert v.flag and len(v.evidence) == 2


def test_other_script_is_counted_not_a_crash(lang):
    v = lang.detect("Это лекарство относится к группе бета-блокаторов.")
    assert v.flag and v.status == "ok" and v.evidence[0].startswith("[cyrillic]")
    mixed = lang.detect("Die Dosis beträgt zweimal täglich. Принимать после еды три раза в день.")
    assert mixed.flag


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "123 456 ..."])
def test_empty_answer_is_status_empty(lang, text):
    v = lang.detect(text)
    assert not v.flag and v.status == "empty"


def test_span_threshold_is_configurable(tiny_cfg, fixed_terms):
    from definemed.failure.language import LanguageMixDetector

    text = "Bei Fieber hilft das sehr, please contact support, sagt der Hausarzt."
    strict = LanguageMixDetector(tiny_cfg.failure.model_copy(update={"min_span_words": 3}), fixed_terms)
    lax = LanguageMixDetector(tiny_cfg.failure.model_copy(update={"min_span_words": 6}), fixed_terms)
    assert strict.detect(text).flag
    assert not lax.detect(text).flag


def test_unknown_language_code_is_a_config_error(tiny_cfg, fixed_terms):
    from definemed.errors import DefinemedError
    from definemed.failure.language import LanguageMixDetector

    with pytest.raises(DefinemedError, match="'xx' is not an ISO 639-1 code"):
        LanguageMixDetector(tiny_cfg.failure.model_copy(update={"languages": ["de", "xx"]}), fixed_terms)


@pytest.mark.parametrize("text", [
    "Benigne essentielle Hypertonie, Diabetes mellitus Typ 2 ohne Komplikationen.",
    "Es zeigte sich eine Absence von ca. 1 Minute Dauer ohne Sturz.",
    "Bei Fragen schreiben Sie an email@example.com oder besuchen Sie https://www.example.org/hilfe bitte.",
    "Die Pflanzen wachsen in geduengter Erde besser, das ist fuer jeden Gaertner klar.",
    "Das Gerät funktioniert per Plug and Play an jedem Rechner ohne Treiber.",
    "Im Ordner ./ git remote add mirror https://example.org/repo.git eingeben und fertig.",
    "Sie studierte an der University of California in Berkeley Medizin.",
])
def test_names_addresses_code_latin_and_umlautless_german_are_not_mixing(lang, text):
    v = lang.detect(text)
    assert not v.flag, v.evidence


def test_english_running_text_in_a_web_page_is_mixing(lang):
    v = lang.detect("Das Hotel liegt am See. The hotel restaurant serves regional cuisine every evening.")
    assert v.flag and "restaurant" in v.evidence[0]
