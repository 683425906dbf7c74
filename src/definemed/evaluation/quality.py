"""Answer quality of one model's free-form answers: pure functions on answer texts (no model, no I/O).

What a reader means by "the model answers": varied, fluent German sentences that stop by themselves,
about the asked entity, stating an object that depends on the question. Each number below is defined
once here and in docs/evaluation.md ("Answer quality"); stage 06 reports them per model variant.

    distinct_share(answers)             distinct answers / N (after trimming and lower-casing)
    mean_words(answers)                 mean words per answer
    sentence_problem(answer)            None for a German sentence of >= 3 words, else the first problem
    is_sentence(answer)                 a non-degenerate sentence of >= 3 words in any language
    german_sentence_share(answers)      share of answers with no sentence problem
    in_format(answer, ended)            ended (end of turn within the token budget) and no sentence problem
    mentions(answer, term)              the answer names `term` (article-insensitive, whole words, case ignored)
    states_gold(answer, gold, pool)     the answer names the gold object and no other object of its kind
    names_entity(answer, entity)        the answer names the asked entity (copy rate)
    stated_object(answer, objects)      the first of a relation's objects the answer names
    top_object_share(objects, relations)  per relation: share of its answers stating its most common
                                        object; mean over relations (NaN when no question has a relation)
    summarize(...)                      every number of one variant, with bootstrap intervals
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import numpy as np

from definemed.failure.text import STOPWORDS, words
from definemed.numerics import mean_ci

MIN_WORDS = 3
"""A sentence needs at least this many words (a lone "Leber." or "Die Leber." is not an answer in format)."""
ENGLISH_FUNCTION_WORDS = frozenset("the a an is are was were and or of to in on for with by as at from this that it "
                                   "be not".split())
SENTENCE_END = (".", "!", "?")
PROBLEMS = ("empty", "no words", "too short", "starts mid-word", "no sentence end", "repeated word",
            "repetition loop", "not German")


ARTICLES = ("der ", "die ", "das ")


def _norm(answer: str) -> str:
    return re.sub(r"\s+", " ", (answer or "").strip().lower())


def _term(s: str) -> str:
    """A term without case, extra whitespace and a leading article ("die Lunge" -> "lunge")."""
    s = _norm(s)
    for a in ARTICLES:
        if s.startswith(a):
            return s[len(a):]
    return s


def mentions(answer: str, term: str, span: bool = False):
    """The answer names `term` (article-insensitive, whole words, case ignored); with span=True the
    (start, end) of the first mention in the whitespace-normalised lower-case answer, or None."""
    m = re.search(r"(?<!\w)" + re.escape(_term(term)) + r"(?!\w)", re.sub(r"\s+", " ", answer.lower()))
    return (m.span() if m else None) if span else m is not None


def states_gold(answer: str, gold: str, competitors: list[str]) -> bool:
    """The answer names the gold object and none of the other objects of its kind."""
    return mentions(answer, gold) and not any(mentions(answer, c) for c in competitors if _term(c) != _term(gold))


def distinct_share(answers: Sequence[str]) -> float:
    """Distinct answers / N (whitespace and case ignored); NaN for no answers."""
    return len({_norm(a) for a in answers}) / len(answers) if len(answers) else float("nan")


def mean_words(answers: Sequence[str]) -> float:
    return float(np.mean([len(words(a)) for a in answers])) if len(answers) else float("nan")


def _loops(ws: list[str]) -> bool:
    """A word trigram that occurs twice, or a text of >= 6 words with fewer than half of them distinct."""
    grams = [tuple(ws[i:i + 3]) for i in range(len(ws) - 2)]
    return len(grams) != len(set(grams)) or (len(ws) >= 6 and len(set(ws)) < len(ws) / 2)


def sentence_problem(answer: str, min_words: int = MIN_WORDS, german: bool = True) -> str | None:
    """Why `answer` is not a German sentence of at least `min_words` words (one of PROBLEMS), or None.

    In order: empty; no words (".", "…", digits only); fewer than `min_words` words; starts mid-word (a
    lower-case letter or a character that is neither a letter nor a digit, e.g. "rifft vor allem ...");
    no sentence end (., ! or ?); the same word twice in a row; a repetition loop (a word trigram
    repeated, or under half of >= 6 words distinct); not German (no German function word, or at least
    as many English as German function words; checked only when `german`)."""
    text = (answer or "").strip()
    if not text:
        return "empty"
    ws = [w.lower() for w in words(text)]
    if not ws:
        return "no words"
    if len(ws) < min_words:
        return "too short"
    first = text[0]
    if not (first.isupper() or first.isdigit()):
        return "starts mid-word"
    if not text.endswith(SENTENCE_END):
        return "no sentence end"
    if any(a == b for a, b in zip(ws, ws[1:])):
        return "repeated word"
    if _loops(ws):
        return "repetition loop"
    if not german:
        return None
    de = sum(w in STOPWORDS for w in ws)
    en = sum(w in ENGLISH_FUNCTION_WORDS for w in ws)
    if de == 0 or en >= de:
        return "not German"
    return None


def is_sentence(answer: str, min_words: int = MIN_WORDS) -> bool:
    """A sentence of at least `min_words` words without degeneration, in any language (stage 07 judges
    typos and language mixing only on these)."""
    return sentence_problem(answer, min_words, german=False) is None


def is_german_sentence(answer: str, min_words: int = MIN_WORDS) -> bool:
    return sentence_problem(answer, min_words) is None


def german_sentence_share(answers: Sequence[str], min_words: int = MIN_WORDS) -> float:
    return float(np.mean([is_german_sentence(a, min_words) for a in answers])) if len(answers) else float("nan")


def in_format(answer: str, ended: bool, min_words: int = MIN_WORDS) -> bool:
    """The answer stopped by itself (end of turn within the token budget) and is a German sentence of
    at least `min_words` words without degeneration (`sentence_problem` is None)."""
    return bool(ended) and is_german_sentence(answer, min_words)


def names_entity(answer: str, entity: str) -> bool:
    """The answer names the asked entity (article-insensitive, whole words, case ignored)."""
    return bool(entity) and mentions(answer or "", entity)


def stated_object(answer: str, objects: Sequence[str]) -> str | None:
    """The object of `objects` named first in the answer (article-insensitive whole words), or None."""
    best, pos = None, None
    for o in dict.fromkeys(objects):
        m = mentions(answer or "", o, span=True)
        if m is not None and (pos is None or m[0] < pos):
            best, pos = o, m[0]
    return best


def top_object_share(objects: Sequence[str | None], relations: Sequence[str]) -> float:
    """Per relation, the share of its answers (all of them, also those stating no object) that state
    its most common stated object; the mean over relations. 1.0 = one object for every question of a
    relation (e.g. "die Milz" to every organ question); NaN when no question has a relation."""
    by: dict[str, list] = {}
    for o, r in zip(objects, relations):
        if r:
            by.setdefault(r, []).append(o)
    shares = []
    for objs in by.values():
        c = Counter(o for o in objs if o is not None)
        shares.append(c.most_common(1)[0][1] / len(objs) if c else 0.0)
    return float(np.mean(shares)) if shares else float("nan")


def summarize(answers: Sequence[str], ended: Sequence[bool], questions: Sequence[dict], n_boot: int, seed: int,
              stream: str, level: float = 0.95, min_words: int = MIN_WORDS) -> dict:
    """Every answer-quality number of one model. `questions[i]` belongs to `answers[i]`: its `subject`
    (the asked entity; "" when unknown), `reference` (gold object; "" when none), `pool` (the other
    objects of its kind) and `relation` ("" when none). Intervals: percentile bootstrap over questions."""
    n = len(answers)
    fmt = np.array([in_format(a, e, min_words) for a, e in zip(answers, ended)], dtype=float)
    subj = [q.get("subject") or "" for q in questions]
    copy = [names_entity(a, s) for a, s in zip(answers, subj) if s]
    gold_q = [(a, q) for a, q in zip(answers, questions) if q.get("reference")]
    gold = np.array([states_gold(a, q["reference"], list(q.get("pool") or [])) for a, q in gold_q], dtype=float)
    objs = [stated_object(a, [q["reference"], *(q.get("pool") or [])]) if q.get("reference") else None
            for a, q in zip(answers, questions)]
    fmt_lo, fmt_hi = mean_ci(fmt, n_boot, seed, stream, "in_format", level=level)
    gold_lo, gold_hi = mean_ci(gold, n_boot, seed, stream, "gold", level=level)
    nan = float("nan")
    return {
        "n": n, "n_empty": int(sum(not (a or "").strip() for a in answers)),
        "distinct_share": distinct_share(answers), "mean_words": mean_words(answers),
        "german_sentence_share": german_sentence_share(answers, min_words),
        "end_of_turn_rate": float(np.mean(np.asarray(ended, dtype=float))) if n else nan,
        "in_format_rate": float(fmt.mean()) if n else nan, "in_format_rate_lo": fmt_lo, "in_format_rate_hi": fmt_hi,
        "copy_rate": float(np.mean(copy)) if copy else nan,
        "gold_share": float(gold.mean()) if len(gold) else nan, "gold_share_lo": gold_lo, "gold_share_hi": gold_hi,
        "top_object_share": top_object_share(objs, [q.get("relation") or "" for q in questions]),
    }


def problem_counts(answers: Sequence[str], min_words: int = MIN_WORDS) -> dict[str, int]:
    """How many answers have each sentence problem (and 'ok'): where in-format answers are lost."""
    c = Counter(sentence_problem(a, min_words) or "ok" for a in answers)
    return {p: int(c.get(p, 0)) for p in ("ok", *PROBLEMS)}
