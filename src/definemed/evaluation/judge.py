"""Pairwise judges: which of two answers to a German medical question is better.

Both judges see only the question and the two answer texts in positions A and B (never which model
wrote them) and return the raw judge text; `parse_verdict` turns it into "A", "B", "tie" or None
(invalid). The verdict format is FastChat's: `[[A]]`, `[[B]]`, `[[C]]` (tie).

- `LLMJudge` (paper profile): an LLM behind an OpenAI-compatible endpoint, with the versioned German
  judge prompt `prompts/judge_pairwise_de_v<N>.txt`.
- `ReferenceJudge` (tiny profile, a stand-in for the LLM judge): prefers the answer that states the gold
  fact object (the reference answer from the fact bank) without naming a competing object of the same
  kind; if both or neither do, it is a tie. It is deterministic and symmetric in A and B, so swapping
  positions cannot change its verdict; the swap protocol still runs unchanged.
"""
from __future__ import annotations

import re
from pathlib import Path

from definemed import paths
from definemed.errors import DefinemedError

VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.IGNORECASE)
ARTICLES = ("der ", "die ", "das ")


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


def _norm(s: str) -> str:
    s = re.sub(r"\s+", " ", s.lower()).strip()
    for a in ARTICLES:
        if s.startswith(a):
            return s[len(a):]
    return s


def mentions(answer: str, term: str, span: bool = False):
    """The answer names `term` (article-insensitive, whole words, case ignored); with span=True the
    (start, end) of the first mention in the whitespace-normalised lower-case answer, or None."""
    m = re.search(r"(?<!\w)" + re.escape(_norm(term)) + r"(?!\w)", re.sub(r"\s+", " ", answer.lower()))
    return (m.span() if m else None) if span else m is not None


def states_gold(answer: str, gold: str, competitors: list[str]) -> bool:
    """The answer names the gold object and none of the other objects of its kind."""
    return mentions(answer, gold) and not any(mentions(answer, c) for c in competitors if _norm(c) != _norm(gold))


class ReferenceJudge:
    """Reference-based stand-in judge (tiny profile). Blind to model identity: it sees texts only."""

    name = "reference"

    def judge(self, items: list[dict]) -> list[str]:
        """items: {question, answer_a, answer_b, reference, pool}; returns raw verdict texts."""
        out = []
        for it in items:
            a = states_gold(it["answer_a"], it["reference"], it["pool"])
            b = states_gold(it["answer_b"], it["reference"], it["pool"])
            v = "A" if a and not b else "B" if b and not a else "C"
            out.append(f"A nennt die Referenz: {'ja' if a else 'nein'}; B nennt die Referenz: {'ja' if b else 'nein'}. [[{v}]]")
        return out


class LLMJudge:
    """LLM judge behind an OpenAI-compatible endpoint (paper profile)."""

    name = "llm"

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
