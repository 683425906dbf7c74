"""Paper-profile loaders on fixture files written in the public datasets' schemas."""
import json

import pytest

from definemed.errors import DefinemedError
from definemed.evaluation import loaders
from definemed.evaluation.questions import read_items, write_items


def _jsonl(path, recs):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_mmlux_records_map_to_task_format(tmp_path):
    recs = _jsonl(tmp_path / "anatomy_DE-test.jsonl", [
        {"question": "Welcher Knochen ist der längste?", "choices": ["Femur", "Tibia", "Humerus", "Radius"],
         "answer": 0, "id": "anatomy/test/0"},
        {"question": "Wo liegt die Leber?", "choices": ["links", "rechts", "oben", "unten"], "answer": "B",
         "id": "anatomy/test/1"},
    ])
    items = [loaders.mmlux_record(r, "anatomy", i) for i, r in enumerate(recs)]
    assert items[0] == {"id": "anatomy/test/0", "subject": "anatomy", "question": "Welcher Knochen ist der längste?",
                        "choices": ["Femur", "Tibia", "Humerus", "Radius"], "answer": 0, "fact_id": -1, "relation": ""}
    assert items[1]["answer"] == 1
    write_items(tmp_path / "out.jsonl", items)
    assert read_items(tmp_path / "out.jsonl") == items


def test_mmlux_bad_records():
    with pytest.raises(DefinemedError, match="anatomy_DE: record 3: missing field 'choices'"):
        loaders.mmlux_record({"question": "q", "answer": 0}, "anatomy", 3)
    with pytest.raises(DefinemedError, match="out of range"):
        loaders.mmlux_record({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 9}, "anatomy", 0)


def test_bioinstructqa_records_map_to_task_format(tmp_path):
    recs = _jsonl(tmp_path / "bioinstructqa.jsonl", [
        {"identifier": 1, "corpus_name": "MedQA", "question_translated": "Ein 54-jähriger Patient ...?",
         "options_translated": {"A": "Aspirin", "B": "Heparin", "C": "Insulin", "D": "Metformin"},
         "correct_answer_letter": "C"},
        {"identifier": 2, "corpus_name": "PubMedQA", "question_translated": "x", "options_translated": {"A": "ja", "B": "nein"},
         "correct_answer_letter": "A"},
        {"identifier": 3, "corpus_name": "MedQA", "question_translated": "Eine 30-jährige Frau ...?",
         "options_translated": "A. eins\nB. zwei\nC. drei\nD. vier", "correct_answer_letter": "d"},
        {"identifier": 4, "corpus_name": "MedQA", "question_translated": "Fünf Optionen?",
         "options_translated": ["a", "b", "c", "d", "e"], "correct_answer_letter": "E"},
    ])
    items = loaders.medqa_items(recs, "MedQA", n_options=4)
    assert [it["id"] for it in items] == ["1", "3"]
    assert items[0]["choices"] == ["Aspirin", "Heparin", "Insulin", "Metformin"] and items[0]["answer"] == 2
    assert items[1]["choices"] == ["eins", "zwei", "drei", "vier"] and items[1]["answer"] == 3
    assert len(loaders.medqa_items(recs, "MedQA", n_options=None)) == 3


@pytest.mark.parametrize("rec, msg", [
    ({"question_translated": "q", "options_translated": {"A": "a", "B": "b"}, "correct_answer_letter": "C"}, "out of range"),
    ({"question_translated": "q", "correct_answer_letter": "A"}, "missing field 'options_translated'"),
    ({"question_translated": "q", "options_translated": {"A": "a", "C": "c"}, "correct_answer_letter": "A"}, "option keys"),
    ({"question_translated": "q", "options_translated": "eins, zwei", "correct_answer_letter": "A"}, "not 'A. ...' lines"),
])
def test_bioinstructqa_bad_records(rec, msg):
    with pytest.raises(DefinemedError, match=msg):
        loaders.bioinstructqa_record({"corpus_name": "MedQA", **rec}, 5)
