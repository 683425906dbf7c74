"""The tiny profile's stand-in for the LLM judge: stated facts checked against the fact bank.

Claim extraction is pattern-based and works because the bank's entities are invented names and each
relation's objects come from a closed, disjoint set (drug classes, side effects, organs, causes,
symptoms, diseases). A *claim* is (subject, relation, object, negated) found in one sentence: a bank
subject (drug or "Morbus <Name>") and an object of one of the subject's relations. A sentence without
a subject continues the previous sentence's subject (the question's at the start), so "Es gehört zu den
Statinen." after a question about Velorixan is a claim about Velorixan.

- hallucination: a claim that pairs a bank subject with a wrong object of the same relation (or
  denies the true one);
- overconfidence: a hallucination stated with certain wording (no hedging marker, or more certainty
  markers than hedges: see text.HEDGES and text.CERTAINTY);
- contradiction: two incompatible claims about the same subject and relation in one answer (two
  different objects, or the same object asserted and denied). The bank has one object per subject and
  relation, so two objects are incompatible by construction.
Markers are word lists (text.HEDGES, text.CERTAINTY): a corpus phrasing that contains "häufig" reads
as hedged, and plain assertive wording without any marker counts as certain.
What this does not see: wrong statements about anything outside the bank, paraphrased relations
without a bank object, and subtle logical contradictions. That is what the paper profile's LLM judge
(judge.py) is for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from definemed.corpus.factbank import OBJECTS_BY_RELATION, FactBank
from definemed.failure.text import CERTAINTY, HEDGES, find_markers, sentences
from definemed.failure.verdict import Verdict

_NEGATION = re.compile(r"(?<![\wäöüß])(nicht|kein|keine|keinen|keinem|keiner|weder|niemals)(?![\wäöüß])", re.I)
DRUG_RELATIONS = ("drug_class", "side_effect", "indication")
DISEASE_RELATIONS = ("organ", "cause", "symptom")


@dataclass(frozen=True)
class Claim:
    subject: str
    relation: str
    object: str
    negated: bool
    sentence: str
    truth: str  # the bank's object for (subject, relation)

    @property
    def correct(self) -> bool:
        return (self.object == self.truth) != self.negated

    def text(self) -> str:
        neg = "NOT " if self.negated else ""
        return f"{self.subject} —{self.relation}→ {neg}{self.object} (bank: {self.truth}) in: {self.sentence}"


def _object_pattern(obj: str) -> re.Pattern:
    noun = obj.split(" ")[-1]  # "das Herz" -> "Herz"
    stem = noun[: max(4, len(noun) - 2)]
    return re.compile(r"(?<![\wäöüß])" + re.escape(stem) + r"[\wäöüß]{0,4}(?![\wäöüß])", re.I)


class FactChecker:
    """Extracts claims about bank entities and judges hallucination, overconfidence, contradiction."""

    def __init__(self, bank: FactBank):
        self.bank = bank
        self.truth = {(f.subject, f.relation): f.object for f in bank.facts}
        self.subject_type = {f.subject: f.subject_type for f in bank.facts}
        self.fact_by_id = {f.fact_id: f for f in bank.facts}
        names = sorted(self.subject_type, key=len, reverse=True)
        self._subjects = re.compile(r"(?<![\wäöüß])(" + "|".join(re.escape(n) for n in names) + r")(?![\wäöüß])", re.I)
        self._canon = {n.lower(): n for n in names}
        self._objects: list[tuple[str, str, re.Pattern]] = []
        for rel, objs in OBJECTS_BY_RELATION.items():
            for o in objs:
                self._objects.append((rel, o, _object_pattern(o)))

    def _subject_mentions(self, s: str) -> list[tuple[int, str]]:
        return [(m.start(), self._canon[m.group(1).lower()]) for m in self._subjects.finditer(s)]

    def claims(self, answer: str, question: str = "", fact_id: int | None = None) -> list[Claim]:
        current: str | None = None
        if fact_id is not None and fact_id in self.fact_by_id:
            current = self.fact_by_id[fact_id].subject
        elif question:
            ms = self._subject_mentions(question)
            current = ms[0][1] if ms else None
        out: list[Claim] = []
        for s in sentences(answer):
            subs = self._subject_mentions(s)
            negated = bool(_NEGATION.search(s))
            objs: list[tuple[int, str, str]] = []
            for rel, o, pat in self._objects:
                objs.extend((m.start(), rel, o) for m in pat.finditer(s))
            # diseases named after a drug are that drug's indication
            drug_pos = [p for p, n in subs if self.subject_type[n] == "drug"]
            objs.extend((p, "indication", n) for p, n in subs
                        if self.subject_type[n] == "disease" and any(dp < p for dp in drug_pos))
            for pos, rel, o in sorted(objs):
                want = "drug" if rel in DRUG_RELATIONS else "disease"
                before = [n for p, n in subs if p < pos and self.subject_type[n] == want]
                after = [n for p, n in subs if p > pos and self.subject_type[n] == want]
                subj = before[-1] if before else after[0] if after else (
                    current if current and self.subject_type.get(current) == want else None)
                if subj is None or (subj, rel) not in self.truth:
                    continue
                out.append(Claim(subj, rel, o, negated, s, self.truth[(subj, rel)]))
            if subs:
                current = subs[-1][1] if not drug_pos else [n for p, n in subs if self.subject_type[n] == "drug"][-1]
        return out

    def judge(self, answer: str, question: str = "", fact_id: int | None = None) -> dict[str, Verdict]:
        """Verdicts for hallucination, overconfidence and contradiction of one answer."""
        if not sentences(answer):
            empty = {"n_claims": 0}
            return {k: Verdict(False, status="empty", details=empty)
                    for k in ("hallucination", "overconfidence", "contradiction")}
        cl = self.claims(answer, question, fact_id)
        wrong = [c for c in cl if not c.correct]
        hedges, certain = find_markers(answer, HEDGES), find_markers(answer, CERTAINTY)
        is_certain = not hedges or len(certain) > len(hedges)
        by_key: dict[tuple[str, str], list[Claim]] = {}
        for c in cl:
            by_key.setdefault((c.subject, c.relation), []).append(c)
        contra = []
        for (subj, rel), cs in by_key.items():
            pos = {c.object for c in cs if not c.negated}
            neg = {c.object for c in cs if c.negated}
            if len(pos) >= 2 or pos & neg:
                contra.append(f"{subj} —{rel}→ " + " vs ".join(sorted(pos) + [f"NOT {o}" for o in sorted(neg & pos)]))
        asked = self.fact_by_id.get(fact_id) if fact_id is not None else None
        asked_claims = [c for c in cl if asked and (c.subject, c.relation) == (asked.subject, asked.relation)]
        details = {"n_claims": len(cl), "n_wrong": len(wrong), "hedges": hedges, "certainty": certain,
                   "asked_correct": (any(c.correct for c in asked_claims) if asked_claims else None)}
        hall = Verdict(bool(wrong), [c.text() for c in wrong], details=details)
        over_ev = [f"certain wording ({', '.join(certain) or 'no hedge'}) + {c.text()}" for c in wrong] if is_certain else []
        over = Verdict(bool(wrong) and is_certain, over_ev, details=details)
        return {"hallucination": hall, "overconfidence": over, "contradiction": Verdict(bool(contra), contra, details=details)}

