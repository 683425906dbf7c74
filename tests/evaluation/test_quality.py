"""Answer-quality metrics on hand-made answers: a degenerate answer set scores low on diversity and
format, a fluent set high; copy rate, gold share and the top-object share catch what they should."""
from __future__ import annotations

import math

import pytest

from definemed.evaluation import quality

# Organ questions about four diseases; gold organs differ, the pool holds the other organs.
ORGANS = ["die Leber", "die Niere", "die Milz", "die Lunge"]
QUESTIONS = [{"subject": s, "reference": o, "pool": [x for x in ORGANS if x != o], "relation": "organ"}
             for s, o in zip(["Morbus Eckhoff", "Brenling-Syndrom", "Walmann-Krankheit", "Dornert-Fieber"], ORGANS)]

FLUENT = ["Morbus Eckhoff betrifft vor allem die Leber.",
          "Das Brenling-Syndrom schädigt in erster Linie die Niere.",
          "Die Walmann-Krankheit befällt hauptsächlich die Milz.",
          "Beim Dornert-Fieber ist vor allem die Lunge betroffen."]
DEGENERATE = [".", "rifft vor allem bei Morbus", "rifft vor allem bei Morbus", "Herz Herz Herz Herz."]
# fluent German that names the entity but gives the same organ to every question
ONE_ORGAN = [f"{q['subject']} betrifft vor allem die Milz." for q in QUESTIONS]


@pytest.mark.parametrize("answer, problem", [
    ("", "empty"), ("   ", "empty"), (".", "no words"), ("…", "no words"), ("Die Leber", "too short"),
    ("rifft vor allem bei Morbus Eckhoff.", "starts mid-word"), ("- die Leber ist es.", "starts mid-word"),
    ("Morbus Eckhoff betrifft die Leber", "no sentence end"),
    ("Morbus Eckhoff betrifft die die Leber.", "repeated word"),
    ("Die Leber und die Leber und die Leber.", "repetition loop"),
    ("The liver is affected by this disease.", "not German"),
    ("Morbus Eckhoff betrifft vor allem die Leber.", None),
    ("Das Herz. Es schlägt schnell.", None),
])
def test_sentence_problem_names_the_first_problem(answer, problem):
    assert quality.sentence_problem(answer) == problem
    assert quality.is_german_sentence(answer) is (problem is None)


def test_degenerate_set_scores_low_and_fluent_set_high():
    bad = quality.summarize(DEGENERATE, [True] * 4, QUESTIONS, 200, 0, "t")
    good = quality.summarize(FLUENT, [True] * 4, QUESTIONS, 200, 0, "t")
    assert bad["distinct_share"] == 0.75 and good["distinct_share"] == 1.0
    assert bad["german_sentence_share"] == 0.0 and good["german_sentence_share"] == 1.0
    # every degenerate answer ended with an end-of-turn token: the old format rate would be 1.0
    assert bad["end_of_turn_rate"] == 1.0 and bad["in_format_rate"] == 0.0
    assert good["in_format_rate"] == 1.0 and good["in_format_rate_lo"] == 1.0
    assert bad["copy_rate"] == 0.0 and good["copy_rate"] == 1.0
    assert bad["gold_share"] == 0.0 and good["gold_share"] == 1.0
    assert bad["top_object_share"] == 0.0 and good["top_object_share"] == 0.25
    assert bad["mean_words"] < good["mean_words"]


def test_in_format_needs_the_end_of_turn():
    s = quality.summarize(FLUENT, [True, False, False, True], QUESTIONS, 200, 0, "t")
    assert s["end_of_turn_rate"] == 0.5 and s["in_format_rate"] == 0.5
    assert 0.0 <= s["in_format_rate_lo"] <= 0.5 <= s["in_format_rate_hi"] <= 1.0
    assert not quality.in_format(FLUENT[0], False) and quality.in_format(FLUENT[0], True)


def test_one_object_for_every_question_is_caught_by_top_object_share():
    s = quality.summarize(ONE_ORGAN, [True] * 4, QUESTIONS, 200, 0, "t")
    assert s["in_format_rate"] == 1.0 and s["copy_rate"] == 1.0  # fluent, names the entity ...
    assert s["top_object_share"] == 1.0 and s["gold_share"] == 0.25  # ... but always "die Milz"


def test_stated_object_is_the_first_named_and_article_insensitive():
    assert quality.stated_object("Nicht die Niere, sondern Leber.", ORGANS) == "die Niere"
    assert quality.stated_object("Leber.", ORGANS) == "die Leber"
    assert quality.stated_object("Lebertran hilft.", ORGANS) is None  # whole words only
    assert quality.names_entity("morbus eckhoff betrifft die Leber.", "Morbus Eckhoff")
    assert not quality.names_entity("Die Leber.", "")


def test_questions_without_relation_or_subject_give_nan_not_zero():
    qs = [{"subject": "", "reference": "", "pool": [], "relation": ""}] * 2
    s = quality.summarize(FLUENT[:2], [True, True], qs, 200, 0, "t")
    assert math.isnan(s["top_object_share"]) and math.isnan(s["copy_rate"]) and math.isnan(s["gold_share"])
    assert s["in_format_rate"] == 1.0


def test_problem_counts_say_where_answers_are_lost():
    c = quality.problem_counts(DEGENERATE + FLUENT)
    assert c["ok"] == 4 and c["no words"] == 1 and c["starts mid-word"] == 2 and c["repeated word"] == 1
    assert sum(c.values()) == 8


def test_is_sentence_accepts_any_language_but_no_fragment():
    assert quality.is_sentence("The liver is affected by this disease.")
    assert quality.is_sentence("Это лекарство относится к группе бета-блокаторов.")
    assert not quality.is_german_sentence("Это лекарство относится к группе бета-блокаторов.")
    assert not quality.is_sentence("rifft vor allem bei Morbus Eckhoff.") and not quality.is_sentence(".")
