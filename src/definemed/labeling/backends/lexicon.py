"""The `lexicon` backend: the tiny profile's stand-in for Mixtral-8x7B-Instruct (which cannot run on
2 CPU cores). A weighted, hand-written German medical lexicon (labeling/lexicon_de.txt), a score
(weighted term hits per 100 words, each term counted at most `max_count_per_term` times), a threshold
-> label, and a logistic map of the score -> a probability-like value. It is deliberately simple and
makes the mistakes a keyword filter makes (health-adjacent topics, medical terms in passing).
"""
from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from definemed.errors import DefinemedError
from definemed.labeling.backends.base import AnnotateResult, Annotator, Doc, Emit
from definemed.labeling.prompt import Prompt, resolve
from definemed.labeling.store import Record

WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


# What may follow a bounded stem (^lunge): nothing, an inflection ending, or a linking element and
# the rest of a compound (at least 4 letters): Lunge, Lungen, Lungenentzündung, Nierenfunktion,
# Magenschleimhaut, rezeptfrei; never Rezeption, Magento, Lungern.
_BOUNDED_REST = re.compile(r"(?:e|en|n|s|es|er|ns)?(?:[^\W\d_]{4,})?")


@dataclass(frozen=True)
class Lexicon:
    """Four ways a term matches a lower-case word, chosen per term in the lexicon file:

    - ``term``   the word starts with it (therap: Therapie, therapeutisch);
    - ``~term``  anywhere in the word: compound parts and heads that do not occur inside ordinary
      words (~therapie: Atmungstherapie; ~pflege: Intensivpflege; ~arzt: Hausarzt);
    - ``^term``  a short, risky stem: only at the start of the word and followed by nothing, an
      inflection ending or a compound continuation of >= 4 letters (^lunge: Lungen, Lungenembolie;
      not Verhandlungen; ^rezept: rezeptfrei, not Rezeption);
    - ``=term``  the whole word only (=arzt, =organ).
    The longest matching term wins (Nierenfunktion: ^niere, not a shorter one).
    """

    prefix: dict[str, float]
    infix: dict[str, float]
    exact: dict[str, float]
    bounded: dict[str, float] = None  # type: ignore[assignment]

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        file = resolve(path)
        if not file.is_file():
            raise DefinemedError(f"{file}: lexicon file not found")
        kinds: dict[str, dict[str, float]] = {"": {}, "~": {}, "=": {}, "^": {}}
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            try:
                term, weight = line.split("\t")
                w = float(weight)
            except ValueError:
                raise DefinemedError(f"{file}:{n}: expected 'term<TAB>weight', got {line!r}") from None
            kind = term[0] if term[0] in "~=^" else ""
            key = term[len(kind):].lower()
            if not key or not WORD.fullmatch(key):
                raise DefinemedError(f"{file}:{n}: term {term!r} is not a word")
            kinds[kind][key] = w
        if not any(kinds.values()):
            raise DefinemedError(f"{file}: lexicon has no terms")
        return cls(kinds[""], kinds["~"], kinds["="], kinds["^"])

    def __post_init__(self):
        if self.bounded is None:
            object.__setattr__(self, "bounded", {})
        alt = lambda d: "|".join(sorted(map(re.escape, d), key=len, reverse=True)) or "(?!)"  # noqa: E731
        object.__setattr__(self, "_prefix_re", re.compile(f"(?:{alt(self.prefix)})"))
        object.__setattr__(self, "_infix_re", re.compile(f"(?:{alt(self.infix)})"))
        object.__setattr__(self, "_bounded", sorted(self.bounded, key=len, reverse=True))
        object.__setattr__(self, "_cache", {})

    def term_of(self, word: str) -> tuple[str, float] | None:
        """The longest lexicon term a (lower-case) word matches, with its weight, or None."""
        cache = self._cache
        if word in cache:
            return cache[word]
        cands = []  # (matched length, key, weight)
        if word in self.exact:
            cands.append((len(word), "=" + word, self.exact[word]))
        m = self._prefix_re.match(word)
        if m:
            cands.append((len(m.group()), m.group(), self.prefix[m.group()]))
        for m in self._infix_re.finditer(word):
            cands.append((len(m.group()), "~" + m.group(), self.infix[m.group()]))
        for stem in self._bounded:
            if word.startswith(stem) and _BOUNDED_REST.fullmatch(word, len(stem)):
                cands.append((len(stem), "^" + stem, self.bounded[stem]))
                break
        best = max(cands)[1:] if cands else None
        cache[word] = best
        return best

    def score(self, text: str, max_count: int = 3) -> tuple[float, int, Counter]:
        """(weighted hits per 100 words, words, hits per term)."""
        words = WORD.findall(text.lower())
        hits: Counter = Counter()
        weights = {}
        for w in words:
            t = self.term_of(w)
            if t is not None:
                hits[t[0]] += 1
                weights[t[0]] = t[1]
        total = sum(weights[t] * min(c, max_count) for t, c in hits.items())
        return 100.0 * total / max(len(words), 1), len(words), hits


class LexiconAnnotator(Annotator):
    name = "lexicon"
    has_prob = True
    is_stand_in = True

    def __init__(self, prompt: Prompt, positive: str, negative: str, *, lexicon_file: str,
                 threshold: float = 4.0, slope: float = 1.0, max_count_per_term: int = 3):
        super().__init__(prompt, positive, negative)
        self.lexicon = Lexicon.load(lexicon_file)
        self.threshold, self.slope, self.max_count = threshold, slope, max_count_per_term

    def describe(self) -> str:
        lx = self.lexicon
        n = len(lx.prefix) + len(lx.infix) + len(lx.exact) + len(lx.bounded)
        return (f"lexicon stand-in for the LLM annotator ({n} hand-written German terms, "
                f"threshold {self.threshold:g} weighted hits per 100 words)")

    def short_name(self) -> str:
        return "lexicon stand-in"

    def label_text(self, text: str) -> tuple[int, float, str]:
        s, n_words, hits = self.lexicon.score(text, self.max_count)
        prob = 1.0 / (1.0 + math.exp(-self.slope * (s - self.threshold)))
        top = ", ".join(f"{t}×{c}" for t, c in hits.most_common(5))
        answer = self.positive if s >= self.threshold else self.negative
        return int(s >= self.threshold), prob, f"{answer} (score {s:.2f} / {n_words} words; {top})"

    def annotate(self, docs: list[Doc], emit: Emit) -> AnnotateResult:
        for d in docs:
            t0 = time.perf_counter()
            label, prob, raw = self.label_text(d.text)
            emit(Record(d.id, label, prob, raw, self.name, time.perf_counter() - t0, "ok", 1, list(d.notes)))
        return AnnotateResult(stats={"answered": len(docs)})
