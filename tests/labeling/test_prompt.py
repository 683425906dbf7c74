"""The prompt file, the document budget and the tolerant answer parser."""
import pytest

from definemed.errors import DefinemedError
from definemed.labeling.prompt import load_prompt, parse_answer, truncate


def test_committed_prompt_loads_with_version_and_placeholder():
    p = load_prompt("prompts/label_medical_de.v1.txt")
    assert p.version == "1" and p.template.count("{document}") == 1
    assert not p.template.startswith("#")  # metadata lines are not sent
    text = p.render("Ein {seltsames} Dokument mit {document} darin")
    assert "Ein {seltsames} Dokument mit {document} darin" in text and "<dokument>" in text


@pytest.mark.parametrize("body, match", [
    ("Sag JA oder NEIN.\n", "placeholder \\{document\\} exactly once \\(found 0\\)"),
    ("JA oder NEIN: {document} {document}\n", "exactly once \\(found 2\\)"),
    ("Antworte mit ja: {document}\n", "never names the answer word 'JA'"),
])
def test_bad_prompt_files(tmp_path, body, match):
    f = tmp_path / "p.txt"
    f.write_text("# version: 9\n" + body)
    with pytest.raises(DefinemedError, match=match):
        load_prompt(f)


def test_missing_prompt_file(tmp_path):
    with pytest.raises(DefinemedError, match="prompt file not found"):
        load_prompt(tmp_path / "nope.txt")


def test_truncate_budget_at_word_boundary():
    text = "Wort " * 1000
    out = truncate(text, 100)
    assert len(out) <= 100 and out.endswith("[…]") and "Wor […]" not in out
    assert truncate("  kurz  ", 100) == "kurz"


@pytest.mark.parametrize("answer, expected", [
    ("JA", 1), ("NEIN", 0), (" nein.", 0), ("**JA**", 1), ('"NEIN"', 0),
    ("Ja, das Dokument ist medizinisch.", 1),
    ("Nein. Es geht um Tierarztpraxen.", 0),
    ("Nach sorgfältiger Prüfung lautet meine Antwort: NEIN. Begründung folgt.", 0),
    ("Die Antwort ist JA", 1),
    ('{"label": "JA"}', 1),
    ("Das Dokument behandelt Krankheiten, daher JA.", 1),
    ("Jahresbericht des Vereins", None),          # "Ja" only as a word prefix
    ("JA oder NEIN, schwer zu sagen", None),      # both words, no decision
    ("Das ist eine interessante Frage.", None),
    ("", None), (None, None),
])
def test_parse_answer(answer, expected):
    assert parse_answer(answer) == expected
