"""Win rules on scripted judgments (wins, ties, inconsistent pairs, invalid), seeded bootstrap."""
import numpy as np
import pandas as pd
import pytest

from definemed.evaluation import winrate as W
from definemed.evaluation.stage import outcomes_from_judgments


@pytest.mark.parametrize("ab, ba, outcome", [
    ("A", "B", "win"),        # candidate preferred in both positions
    ("B", "A", "loss"),       # reference preferred in both positions
    ("tie", "tie", "tie"),
    ("A", "A", "tie"),        # position bias: always the first answer -> inconsistent -> tie
    ("B", "B", "tie"),
    ("A", "tie", "tie"),      # win in one order, tie in the other -> tie
    ("tie", "A", "tie"),
    (None, "B", "invalid"),   # unparseable judgment in either order
    ("A", None, "invalid"),
])
def test_pair_rules(ab, ba, outcome):
    assert W.pair_outcome(ab, ba) == outcome


def test_counts_and_rates_exclude_invalid_from_n():
    o = ["win", "win", "tie", "loss", "invalid", "tie"]
    c = W.counts(o)
    assert c == {"win": 2, "tie": 2, "loss": 1, "invalid": 1, "n": 5}
    r = W.rates(o)
    assert r["win_rate"] == pytest.approx(2 / 5) and r["score"] == pytest.approx(3 / 5)
    assert np.isnan(W.rates(["invalid", "invalid"])["win_rate"])
    with pytest.raises(ValueError, match="unknown outcome"):
        W.counts(["draw"])


def test_bootstrap_is_seeded_and_reproducible():
    o = ["win"] * 10 + ["tie"] * 5 + ["loss"] * 25
    a = W.summarize(o, 500, seed=7, stream="m")
    b = W.summarize(o, 500, seed=7, stream="m")
    c = W.summarize(o, 500, seed=8, stream="m")
    assert a == b
    assert (a["win_rate_lo"], a["win_rate_hi"]) != (c["win_rate_lo"], c["win_rate_hi"])
    assert a["win_rate_lo"] <= a["win_rate"] == 0.25 <= a["win_rate_hi"]
    assert a["score_lo"] <= a["score"] <= a["score_hi"]
    x = W.bootstrap(lambda i: i.mean(), 20, 50, 3, "s")
    assert np.array_equal(x, W.bootstrap(lambda i: i.mean(), 20, 50, 3, "s"))


def test_paired_ratio_and_zero_base():
    base = ["win"] * 4 + ["loss"] * 36
    adapted = ["win"] * 12 + ["tie"] * 4 + ["loss"] * 24
    r = W.paired_ratio(adapted, base, 500, 1, "fam")
    assert r["ratio"] == pytest.approx(3.0) and r["diff"] == pytest.approx(0.2)
    assert r["ratio_lo"] <= 3.0 <= r["ratio_hi"] and r["diff_lo"] > 0
    z = W.paired_ratio(adapted, ["loss"] * 40, 200, 1, "fam")
    assert np.isnan(z["ratio"]) and z["ratio_undefined_share"] == 1.0 and z["diff_lo"] > 0
    with pytest.raises(ValueError, match="same questions"):
        W.paired_ratio(adapted, base[:-1], 10, 1, "x")


def test_outcomes_from_scripted_judgments():
    j = pd.DataFrame({
        "variant": ["m"] * 8,
        "qid": ["q1", "q1", "q2", "q2", "q3", "q3", "q4", "q4"],
        "order": ["ab", "ba"] * 4,
        "verdict": ["A", "B", "A", "A", "B", "A", None, "B"],
    })
    oc = outcomes_from_judgments(j).set_index("qid")["outcome"].to_dict()
    assert oc == {"q1": "win", "q2": "tie", "q3": "loss", "q4": "invalid"}


def test_pair_reasons_from_the_rubric_classes():
    """Ties carry the rubric's reason; an LLM judge's disagreeing orders or a tie the rubric separates say so."""
    lab = {"q1": ("correct", "wrong"), "q2": ("wrong", "no object"), "q3": ("off-topic", "correct"),
           "q4": ("correct", "wrong"), "q5": ("wrong", "wrong")}
    verdicts = {"q1": ("A", "B"), "q2": ("tie", "tie"), "q3": ("B", "A"), "q4": ("tie", "tie"), "q5": ("A", "tie")}
    rows = []
    for q, (c, r) in lab.items():
        for order, v in zip(("ab", "ba"), verdicts[q]):
            a, b = (c, r) if order == "ab" else (r, c)
            rows.append({"variant": "m", "qid": q, "order": order, "verdict": v, "label_a": a, "label_b": b})
    oc = outcomes_from_judgments(pd.DataFrame(rows)).set_index("qid")
    assert oc.loc["q1", "outcome"] == "win" and oc.loc["q1", "reason"] == "correct over wrong"
    assert oc.loc["q2", "reason"] == "one wrong, one misses the relation"
    assert oc.loc["q3", "outcome"] == "loss" and oc.loc["q3", "reason"] == "correct over off-topic"
    assert oc.loc["q4", "reason"] == "judge tie; rubric correct over wrong"
    assert oc.loc["q5", "outcome"] == "tie" and oc.loc["q5", "reason"] == "orders disagree"
    assert (oc.label_candidate == [lab[q][0] for q in oc.index]).all()
