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


# 20 hand-written pairs with the verdict a reader with the gold fact in hand gives: (candidate answer,
# ended, reference-model answer, ended, question key, outcome for the candidate, reason).
Q = {"organ": {"question": "Welches Organ ist bei Morbus Kelvar hauptsächlich betroffen?", "subject": "Morbus Kelvar",
               "reference": "die Lunge", "pool": ["die Leber", "die Niere", "das Herz", "die Haut"]},
     "drug": {"question": "Zu welcher Wirkstoffgruppe gehört Velorixan?", "subject": "Velorixan",
              "reference": "Statine", "pool": ["Betablocker", "ACE-Hemmer", "Sulfonylharnstoffe"]}}
PAIRS = [
    ("Morbus Kelvar betrifft vor allem die Lunge.", True, "Morbus Kelvar betrifft vor allem die Leber.", True,
     "organ", "win", "correct over wrong"),
    ("Bei Morbus Kelvar erkrankt in erster Linie die Niere.", True, "Das Leitorgan von Morbus Kelvar ist die Lunge.",
     True, "organ", "loss", "correct over wrong"),
    ("Morbus Kelvar betrifft vor allem die Lunge.", True, "Das Leitorgan von Morbus Kelvar ist die Lunge.", True,
     "organ", "tie", "both correct"),
    ("Morbus Kelvar betrifft vor allem die Leber.", True, "Bei Morbus Kelvar erkrankt vor allem das Herz.", True,
     "organ", "tie", "both wrong"),
    # an answer about another entity never beats an in-format answer about the asked one, even with the gold object
    ("Morbus Kelvar betrifft vor allem die Niere.", True, "Morbus Talvin betrifft vor allem die Lunge.", True,
     "organ", "win", "wrong over off-topic"),
    ("Morbus Talvin betrifft vor allem die Lunge.", True, "Das Leitorgan von Morbus Kelvar ist die Lunge.", True,
     "organ", "loss", "correct over off-topic"),
    # a cut-off answer (the token cap ended it) loses to an in-format one, even when it names the gold object
    ("Der Krankheitsprozess bei Morbus Kelvar schädigt die Lunge und", False,
     "Morbus Kelvar betrifft vor allem die Haut.", True, "organ", "loss", "wrong over out of format"),
    ("Morbus Kelvar betrifft die Lunge die Lunge die Lunge die Lunge.", True,
     "Morbus Kelvar wird verursacht durch Pilze.", True, "organ", "loss", "no object over out of format"),
    (".", True, "Morbus Kelvar betrifft vor allem die Leber.", True, "organ", "loss", "wrong over out of format"),
    (".", True, "Morbus Talvin betrifft vor allem die Leber.", True, "organ", "tie", "one off-topic, one out of format"),
    (".", True, "…", True, "organ", "tie", "both out of format"),
    ("Morbus Talvin betrifft vor allem die Lunge.", True, "Velorixan gehört zur Gruppe der Statine.", True,
     "organ", "tie", "both off-topic"),
    ("Morbus Kelvar wird verursacht durch Pilze.", True, "Typisch für Morbus Kelvar ist starker Husten.", True,
     "organ", "tie", "both miss the relation"),
    ("Morbus Kelvar betrifft vor allem die Leber.", True, "Morbus Kelvar ist eine seltene Erkrankung.", True,
     "organ", "tie", "one wrong, one misses the relation"),
    # naming the gold beside a competitor is a hedge, not a correct answer
    ("Morbus Kelvar betrifft die Lunge oder die Leber.", True, "Morbus Kelvar betrifft vor allem die Lunge.", True,
     "organ", "loss", "correct over wrong"),
    ("Im Verlauf von Morbus Kelvar nimmt vor allem die LUNGE Schaden.", True, "Morbus Kelvar betrifft vor allem",
     False, "organ", "win", "correct over out of format"),
    ("Morbus Kelvar affects the lung in most of the cases.", True, "Morbus Kelvar betrifft vor allem das Herz.", True,
     "organ", "loss", "wrong over out of format"),
    ("Morbus Kelvar.", True, "Bei Morbus Kelvar ist vor allem die Lunge betroffen.", True, "organ", "loss",
     "correct over out of format"),
    ("Velorixan gehört zur Gruppe der Statine.", True, "Velorixan gehört zur Gruppe der Betablocker.", True,
     "drug", "win", "correct over wrong"),
    ("Tamorilan gehört zur Gruppe der Statine.", True, "Velorixan ist ein häufig verordnetes Medikament.", True,
     "drug", "loss", "no object over off-topic"),
]


def _both_orders(cand, ended_c, ref, ended_r, q):
    ab = {**q, "answer_a": cand, "ended_a": ended_c, "answer_b": ref, "ended_b": ended_r}
    ba = {**q, "answer_a": ref, "ended_a": ended_r, "answer_b": cand, "ended_b": ended_c}
    return [ab, ba]


def test_twenty_hand_written_pairs_get_their_known_verdicts():
    assert len(PAIRS) == 20
    items = [it for c, ec, r, er, qk, _, _ in PAIRS for it in _both_orders(c, ec, r, er, Q[qk])]
    raw = J.ReferenceJudge().judge(items)
    assert len(raw) == 40  # both position orders judged
    for k, (cand, _, ref, _, _, outcome, reason) in enumerate(PAIRS):
        ra, rb = raw[2 * k], raw[2 * k + 1]
        va, vb = J.parse_verdict(ra), J.parse_verdict(rb)
        assert pair_outcome(va, vb) == outcome, (cand, ref, ra, rb)
        assert f"{reason}." in ra and f"{reason}." in rb, (cand, ref, ra)  # the reason is in the judgment text
        assert {"win": ("A", "B"), "loss": ("B", "A"), "tie": ("tie", "tie")}[outcome] == (va, vb)


def test_lower_classes_never_beat_an_in_format_answer_about_the_asked_entity():
    """Over every pair of the 20 (both directions): an off-topic, cut-off, looping or lone-"." answer
    never wins against an in-format answer that names the asked entity."""
    answers = {(c, ec, qk) for c, ec, _, _, qk, _, _ in PAIRS} | {(r, er, qk) for _, _, r, er, qk, _, _ in PAIRS}
    judge = J.ReferenceJudge()
    for x in answers:
        for y in answers:
            if x[2] != y[2]:
                continue
            q = Q[x[2]]
            ax = J.assess(x[0], x[1], q["subject"], q["reference"], q["pool"])
            ay = J.assess(y[0], y[1], q["subject"], q["reference"], q["pool"])
            v = pair_outcome(*[J.parse_verdict(r) for r in judge.judge(_both_orders(x[0], x[1], y[0], y[1], q))])
            if ax.label in ("off-topic", "out of format") and ay.rank >= 1:
                assert v == "loss", (x, y)
            if ax.label == "correct" and ay.label == "wrong":
                assert v == "win", (x, y)


def test_assess_names_what_decided_the_class():
    q = Q["organ"]
    a = lambda text, ended=True: J.assess(text, ended, q["subject"], q["reference"], q["pool"])  # noqa: E731
    assert a("Morbus Kelvar betrifft vor allem", ended=False).detail == "cut by the token cap"
    assert a("Morbus Kelvar betrifft Kelvar betrifft Kelvar betrifft.").detail == "repetition loop"
    assert a(".").detail == "no words"
    assert a("Morbus Kelvar betrifft die Lungenentzündung stark.").label == "no object"  # whole words only
    assert a("Morbus Kelvar betrifft die Lunge oder die Leber.").detail == "states die Leber beside die Lunge"
    # a question without a known entity (hub questions) skips the entity check
    assert J.assess("Betroffen ist vor allem die Lunge.", True, "", q["reference"], q["pool"]).label == "correct"
    assert J.states_gold("LUNGE", "die Lunge", q["pool"])
    with pytest.raises(DefinemedError, match="lacks ended_a"):
        J.ReferenceJudge().judge([{"answer_a": "x", "answer_b": "y", "subject": "s", "reference": "r", "pool": []}])


def test_every_tie_reason_is_named():
    labels = list(J.LABELS)
    reasons = {J.pair_reason(a, b) for a in labels for b in labels if J.RANK[a] == J.RANK[b]}
    assert reasons == set(J.TIE_REASONS)
    assert J.pair_reason("wrong", "no object") == J.pair_reason("no object", "wrong")


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
