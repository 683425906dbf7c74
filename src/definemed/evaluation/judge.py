"""Pairwise judges: which of two answers to a German medical question is better.

Both judges see the question and the two answer texts in positions A and B (never which model wrote
them) and return the raw judge text; `parse_verdict` turns it into "A", "B", "tie" or None (invalid).
The verdict format is FastChat's: `[[A]]`, `[[B]]`, `[[C]]` (tie).

- `LLMJudge` (paper profile): an LLM behind an OpenAI-compatible endpoint, with the versioned German
  judge prompt `prompts/judge_pairwise_de_v<N>.txt`.
- `ReferenceJudge` (tiny profile, a stand-in for the LLM judge): applies the rubric below, the reading
  an LLM judge with the gold fact in hand would give. It also sees the asked entity, the gold object,
  the other objects of the relation and whether each answer ended its turn within the token budget.

The rubric (stated in docs/evaluation.md, "The judge rubric"). `assess` puts each answer in one class:

    out of format  not a complete German sentence that ended its turn (`quality.in_format`): cut by the
                   token cap, a repetition loop, a lone ".", too short, not German, ...   rank 0
    off-topic      in format, but does not name the asked entity (`quality.names_entity`)  rank 0
    no object      in format, about the entity, names no object of the asked relation     rank 1
    wrong          in format, about the entity, names another object of the relation (or
                   the gold object together with a competing one)                         rank 1
    correct        in format, about the entity, states the gold object and no competitor  rank 2

A question without a known entity (the paper profile's hub questions) skips the entity check.
`rubric_verdict`: the higher rank wins; equal ranks tie, and the tie carries its reason ("both correct",
"both wrong", "one wrong, one misses the relation", "both off-topic", "both out of format", ...). The
judge is deterministic and symmetric in A and B, so swapping positions cannot change its verdict; the
swap protocol still runs unchanged (both orders are judged and recorded).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from definemed import paths
from definemed.errors import DefinemedError
from definemed.evaluation.quality import (MIN_WORDS, in_format, mentions, names_entity, sentence_problem, stated_object,
                                         states_gold)

__all__ = ["mentions", "states_gold", "parse_verdict", "load_prompt", "assess", "rubric_verdict", "pair_reason",
           "Assessment", "ReferenceJudge", "LLMJudge", "LABELS", "RANK"]

VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.IGNORECASE)

LABELS = ("correct", "wrong", "no object", "off-topic", "out of format")
RANK = {"correct": 2, "wrong": 1, "no object": 1, "off-topic": 0, "out of format": 0}
_BOTH = {"correct": "both correct", "wrong": "both wrong", "no object": "both miss the relation",
         "off-topic": "both off-topic", "out of format": "both out of format"}
_MIXED = {frozenset(("wrong", "no object")): "one wrong, one misses the relation",
          frozenset(("off-topic", "out of format")): "one off-topic, one out of format"}
TIE_REASONS = tuple(_BOTH.values()) + tuple(_MIXED.values())
"""Every reason the rubric can give for a tie (the tie-reason table lists them in this order)."""


def parse_verdict(text) -> str | None:
    """'[[A]]' -> 'A', '[[B]]' -> 'B', '[[C]]' -> 'tie'; None if absent, conflicting or not text."""
    if not isinstance(text, str):
        return None
    found = {m.upper() for m in VERDICT.findall(text)}
    if len(found) != 1:
        return None
    v = found.pop()
    return "tie" if v == "C" else v


def load_prompt(version: str) -> str:
    """The judge prompt prompts/judge_pairwise_de_<version>.txt; it must contain the three placeholders."""
    f = paths.PROMPTS / f"judge_pairwise_de_{version}.txt"
    if not f.is_file():
        raise DefinemedError(f"{f}: judge prompt not found (evaluate.judge_prompt_version: {version})")
    text = f.read_text(encoding="utf-8")
    for ph in ("{question}", "{answer_a}", "{answer_b}"):
        if ph not in text:
            raise DefinemedError(f"{f}: placeholder {ph} missing")
    return text


@dataclass(frozen=True)
class Assessment:
    """One answer read by the rubric: its class (one of LABELS) and what decided it."""

    label: str
    detail: str

    @property
    def rank(self) -> int:
        return RANK[self.label]


def assess(answer: str, ended: bool, subject: str, reference: str, pool: list[str],
           min_words: int = MIN_WORDS) -> Assessment:
    """The rubric's class of one answer to a question about `subject` whose gold object is `reference`
    (`pool`: the other objects of the relation). Checked in order: format, entity, object."""
    answer = answer or ""
    if not in_format(answer, ended, min_words):
        return Assessment("out of format",
                          "cut by the token cap" if not ended else sentence_problem(answer, min_words) or "?")
    if subject and not names_entity(answer, subject):  # no known entity (hub questions): not checked
        return Assessment("off-topic", f"does not name {subject}")
    if states_gold(answer, reference, pool):
        return Assessment("correct", f"states {reference}")
    other = stated_object(answer, [o for o in pool if o != reference])  # the first competing object named
    if other is None:
        return Assessment("no object", "names no object of the asked relation")
    return Assessment("wrong", f"states {other}" + (f" beside {reference}" if mentions(answer, reference) else ""))


def pair_reason(a: str, b: str) -> str:
    """Why two answers of classes `a` and `b` tie ("both wrong", ...) or which class won ("correct over
    wrong"); symmetric for ties."""
    if RANK[a] == RANK[b]:
        return _BOTH[a] if a == b else _MIXED[frozenset((a, b))]
    hi, lo = (a, b) if RANK[a] > RANK[b] else (b, a)
    return f"{hi} over {lo}"


def rubric_verdict(a: Assessment, b: Assessment) -> tuple[str, str]:
    """("A" | "B" | "tie", reason): the higher rank wins, equal ranks tie."""
    v = "A" if a.rank > b.rank else "B" if b.rank > a.rank else "tie"
    return v, pair_reason(a.label, b.label)


class ReferenceJudge:
    """The rubric stand-in for the LLM judge (tiny profile). Blind to model identity."""

    name = "reference"
    version = "rubric-v2"
    key_fields = ("subject", "reference", "pool", "ended_a", "ended_b")
    """What besides the question and the answers decides a verdict (part of the stored judgment's key)."""

    def __init__(self, min_words: int = MIN_WORDS):
        self.min_words = min_words
        """An answer in format has at least this many words (evaluate.min_answer_words)."""

    @property
    def model_id(self) -> str:
        """Names the rubric and its setting in every stored judgment (a changed rubric is judged anew)."""
        return f"reference-{self.version}-min{self.min_words}"

    def judge(self, items: list[dict]) -> list[str]:
        """items: {question, answer_a, answer_b, ended_a, ended_b, subject, reference, pool}; raw verdict texts."""
        out = []
        for i, it in enumerate(items):
            missing = [k for k in ("answer_a", "answer_b", "ended_a", "ended_b", "subject", "reference", "pool")
                       if k not in it]
            if missing:
                raise DefinemedError(f"reference judge: item {i} lacks {', '.join(missing)}")
            a = assess(it["answer_a"], it["ended_a"], it["subject"], it["reference"], list(it["pool"]), self.min_words)
            b = assess(it["answer_b"], it["ended_b"], it["subject"], it["reference"], list(it["pool"]), self.min_words)
            v, reason = rubric_verdict(a, b)
            mark = {"A": "A", "B": "B", "tie": "C"}[v]
            out.append(f"A: {a.label} ({a.detail}). B: {b.label} ({b.detail}). {reason}. [[{mark}]]")
        return out


class LLMJudge:
    """LLM judge behind an OpenAI-compatible endpoint (paper profile)."""

    name = "llm"
    key_fields: tuple[str, ...] = ()

    def __init__(self, client, prompt_version: str, max_tokens: int = 512):
        self.client, self.template, self.max_tokens = client, load_prompt(prompt_version), max_tokens

    def render(self, it: dict) -> str:
        return self.template.format(question=it["question"], answer_a=it["answer_a"], answer_b=it["answer_b"])

    def judge(self, items: list[dict]) -> list[str]:
        convs = [[{"role": "user", "content": self.render(it)}] for it in items]
        return self.client.complete_many(convs, self.max_tokens, desc="judge")

    @property
    def concurrency(self) -> int:
        return int(getattr(self.client, "concurrency", 8))

    def judge_one(self, it: dict) -> str:
        """One request; raises DefinemedError when the client's retries are spent (judge_store records it)."""
        return self.client.complete([{"role": "user", "content": self.render(it)}], self.max_tokens)


def prompt_path(version: str) -> Path:
    return paths.PROMPTS / f"judge_pairwise_de_{version}.txt"
