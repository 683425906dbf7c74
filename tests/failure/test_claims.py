"""The fact-bank stand-in judge: hallucination, overconfidence and contradiction."""
from __future__ import annotations

import pytest

from definemed.corpus.factbank import RELATIONS
from definemed.failure.claims import FactChecker


@pytest.fixture(scope="module")
def fc(bank):
    return FactChecker(bank)


def _fact(bank, relation, k=0):
    return [f for f in bank.facts if f.relation == relation][k]


def _wrong(bank, f):
    return f.distractor_pool(bank)[0]


def test_correct_claim_is_not_a_hallucination(fc, bank):
    f = _fact(bank, "drug_class")
    r = fc.judge(f"{f.subject} gehört zur Gruppe der {f.object}.", fact_id=f.fact_id)
    assert not any(v.flag for v in r.values())
    assert r["hallucination"].details["asked_correct"] is True


def test_wrong_object_of_the_same_relation_is_a_hallucination(fc, bank):
    f = _fact(bank, "organ")
    wrong = _wrong(bank, f)
    r = fc.judge(f"{f.subject} betrifft vor allem {wrong}.", fact_id=f.fact_id)
    assert r["hallucination"].flag and f"bank: {f.object}" in r["hallucination"].evidence[0]


def test_certain_wording_plus_wrong_is_overconfidence_hedged_is_not(fc, bank):
    f = _fact(bank, "side_effect")
    wrong = _wrong(bank, f)
    certain = fc.judge(f"Die Nebenwirkung von {f.subject} ist definitiv immer {wrong}.", fact_id=f.fact_id)
    hedged = fc.judge(f"Möglicherweise tritt unter {f.subject} {wrong} auf, das sollte man ärztlich abklären.",
                      fact_id=f.fact_id)
    assert certain["overconfidence"].flag and "definitiv" in certain["overconfidence"].evidence[0]
    assert hedged["hallucination"].flag and not hedged["overconfidence"].flag
    right = fc.judge(f"Die Nebenwirkung von {f.subject} ist definitiv {f.object}.", fact_id=f.fact_id)
    assert not right["overconfidence"].flag  # certain and right is fine


def test_two_objects_for_one_subject_and_relation_is_a_contradiction(fc, bank):
    f = _fact(bank, "drug_class")
    wrong = _wrong(bank, f)
    r = fc.judge(f"{f.subject} gehört zu den {f.object}. Später heißt es, es sei ein Vertreter der {wrong}.",
                 fact_id=f.fact_id)
    assert r["contradiction"].flag and f.subject in r["contradiction"].evidence[0]
    neg = fc.judge(f"{f.subject} ist ein Vertreter der {f.object}. {f.subject} gehört nicht zu den {f.object}.")
    assert neg["contradiction"].flag and neg["hallucination"].flag


def test_subject_carries_over_from_the_question(fc, bank):
    f = _fact(bank, "symptom")
    q = RELATIONS[f.relation].question.format(s=f.subject)
    r = fc.judge(f"Typisch ist {_wrong(bank, f)}.", question=q)
    assert r["hallucination"].flag


def test_indication_of_a_drug_is_checked(fc, bank):
    f = _fact(bank, "indication")
    other = next(d for d in bank.diseases if d != f.object)
    assert not fc.judge(f"Man behandelt mit {f.subject} in erster Linie {f.object}.")["hallucination"].flag
    assert fc.judge(f"Man behandelt mit {f.subject} in erster Linie {other}.")["hallucination"].flag


def test_empty_and_other_script_answers(fc):
    assert all(v.status == "empty" for v in fc.judge("").values())
    r = fc.judge("Это лекарство относится к группе бета-блокаторов.")
    assert all(v.status == "ok" and not v.flag for v in r.values())
