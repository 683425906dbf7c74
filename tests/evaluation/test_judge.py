"""Judge parser on malformed judge answers; the reference judge is blind and symmetric; a judge that
answers nonsense gives counted invalid judgments, never silent losses."""
import pytest

from definemed.errors import DefinemedError
from definemed.evaluation import judge as J
from definemed.evaluation.winrate import counts, pair_outcome


@pytest.mark.parametrize("text, verdict", [
    ("Begründung ... [[A]]", "A"),
    ("[[B]]", "B"),
    ("Gleichstand: [[C]]", "tie"),
    ("[[ a ]]", "A"),
    ("[[A]] ... mein endgültiges Urteil: [[A]]", "A"),
    ("[[A]] oder doch [[B]]", None),       # conflicting
    ("Assistent A ist besser.", None),     # no verdict marker
    ("[[D]]", None),
    ("[A]", None),
    ("", None),
    (None, None),
    (42, None),
])
def test_parse_verdict(text, verdict):
    assert J.parse_verdict(text) == verdict


def test_reference_judge_prefers_gold_and_is_symmetric():
    pool = ["die Leber", "die Niere", "das Herz"]
    it = {"question": "Welches Organ?", "reference": "die Lunge", "pool": pool,
          "answer_a": "Betroffen ist vor allem die Lunge.", "answer_b": "Das Herz."}
    swapped = {**it, "answer_a": it["answer_b"], "answer_b": it["answer_a"]}
    ra, rb = J.ReferenceJudge().judge([it, swapped])
    assert J.parse_verdict(ra) == "A" and J.parse_verdict(rb) == "B"
    assert pair_outcome(J.parse_verdict(ra), J.parse_verdict(rb)) == "win"
    hedge = {**it, "answer_a": "Lunge oder Leber", "answer_b": "keine Ahnung"}
    assert J.parse_verdict(J.ReferenceJudge().judge([hedge])[0]) == "tie"
    assert J.states_gold("LUNGE", "die Lunge", pool)
    assert not J.states_gold("Lungenentzündung", "die Lunge", pool)


class _NonsenseClient:
    def complete_many(self, convs, max_tokens, desc=""):
        return ["Ich weiß es nicht.", "[[A]] [[B]]", "", "[[B]]"][: len(convs)]


def test_llm_judge_nonsense_counts_invalid():
    judge = J.LLMJudge(_NonsenseClient(), "v1")
    items = [{"question": "F?", "answer_a": "a", "answer_b": "b"}] * 4
    v = [J.parse_verdict(r) for r in judge.judge(items)]
    assert v == [None, None, None, "B"]
    outcomes = [pair_outcome(v[0], v[1]), pair_outcome(v[2], v[3])]
    assert counts(outcomes) == {"win": 0, "tie": 0, "loss": 0, "invalid": 2, "n": 0}
    assert "{question}" not in judge.render(items[0]) and "Assistent A" in judge.render(items[0])


def test_judge_prompt_versioned():
    assert J.prompt_path("v1").is_file()
    with pytest.raises(DefinemedError, match="judge prompt not found"):
        J.load_prompt("v999")
