"""Typos: words the German dictionary (pyspellchecker, shipped in the wheel) does not know.

Not counted as typos: medical terminology (fact bank, medical Latin, drug-name stems, corpus terms;
see terms.py), words with a Greek/Latin medical ending (-itis, -ämie, -skopie, -ation, -iv, ...),
known words with an inflection or derivation ending (Betablocker-n, Verwirrt-heit), eponyms after
"Morbus", German compounds whose parts are known words (with linking -s-/-n-/-en-/-es-),
abbreviations in capitals (EKG, MRT), words shorter than `typo_min_word_len`, English words
(language mixing, counted by the other detector) and words in another script.
A real-word error ("den" for "dem") is invisible to a dictionary: recall is measured, not assumed.
"""
from __future__ import annotations

from functools import lru_cache

from definemed.config import FailureConfig
from definemed.failure.terms import Terms, _edits1, english_dictionary, german_dictionary, is_drug_like
from definemed.failure.text import script_of, sentences, words
from definemed.failure.verdict import Verdict

_LINKS = ("", "s", "es", "n", "en", "e", "er")
_INFLECTIONS = ("n", "en", "e", "er", "es", "em", "s", "ern")
_DERIVATIONS = ("heit", "keit", "ung", "lich", "isch", "ig", "bar", "los")
# Greek/Latin medical word formation: a word with one of these endings is terminology, not a typo
MEDICAL_SUFFIXES = ("itis", "ose", "osen", "ämie", "ämien", "ektomie", "skopie", "graphie", "grafie",
                    "gramm", "logie", "loge", "login", "pathie", "algie", "plasie", "trophie", "stase",
                    "lyse", "tomie", "therapie", "kokken", "steroid", "steroide", "thyroxin", "bacter",
                    "ation", "ationen", "ismus", "zyt", "zyten", "om", "ome", "iasis", "ale", "ales",
                    "alen", "iv", "ive", "iven", "iver", "ives", "är", "äre", "ären", "ärer", "ales")


class TypoDetector:
    def __init__(self, cfg: FailureConfig, terms: Terms):
        self.de = german_dictionary()
        self.en = english_dictionary()
        self.terms = terms
        self.min_len = cfg.typo_min_word_len
        self.min_typos = cfg.min_typos
        self._known = lru_cache(maxsize=100_000)(self._known_uncached)

    def _word_ok(self, w: str) -> bool:
        return w in self.de or w in self.terms.corpus or w in self.terms.fixed

    def _compound(self, w: str, depth: int = 0) -> bool:
        """w splits into known parts of at least 4 letters (linking -s-, -n-, -en-, ... allowed)."""
        if depth > 2 or len(w) < 8:
            return False
        for i in range(4, len(w) - 3):
            head, tail = w[:i], w[i:]
            if not (self._word_ok(tail) or self._compound(tail, depth + 1)):
                continue
            for link in _LINKS:
                stem = head[: len(head) - len(link)] if link else head
                if link == "n" and not stem.endswith("e"):
                    continue  # -n- links only after -e (Lunge-n-funktion), never "Krank-n-haus"
                if head.endswith(link) and len(stem) >= 4 and (
                        self._word_ok(stem) or (not link and self._word_ok(stem + "e"))
                        or self._compound(stem, depth + 1)):
                    return True
        return False

    def _inflected(self, w: str) -> bool:
        """w is a known word or term with an inflection or derivation ending (Betablocker-n,
        verwirrt-heit) or a dropped -e (Kontroll(e)-untersuchung is handled in _compound)."""
        for end in _INFLECTIONS + _DERIVATIONS:
            if w.endswith(end) and len(w) - len(end) >= 4:
                stem = w[: -len(end)]
                if end == "n" and not stem.endswith(("e", "el", "er")):
                    continue  # Betablocker-n, Kurve-n; never "Patient-n"
                if end[0] == "e" and stem.endswith("e"):
                    continue  # never "werde-en"
                if self._word_ok(stem):
                    return True
        return False

    def _near_known(self, w: str) -> bool:
        """A dictionary word or term is one edit away (not just a different ending): a word that only
        a heuristic accepts but sits next to a real word is more likely that word misspelled."""
        def spelling_variant(v: str) -> bool:  # Appendizitis / appendicitis, Karzinom / carcinom
            diff = [i for i in range(len(w)) if w[i] != v[i]] if len(v) == len(w) else []
            return len(diff) == 1 and {w[diff[0]], v[diff[0]]} <= {"c", "k", "z"}

        return any(self._word_ok(v) for v in _edits1(w)
                   if not (w.startswith(v) or v.startswith(w) or spelling_variant(v)))

    def _weak_ok(self, w: str) -> bool:
        """Pattern-based acceptance (drug-name stems, Greek/Latin endings, compounds): right for
        unseen terminology, but also for some misspellings, hence the _near_known check."""
        if is_drug_like(w) or w in self.en:
            return True  # rare English dictionary words are mostly terminology (paracetamol)
        if len(w) >= 8 and w.endswith(MEDICAL_SUFFIXES):
            return True
        if "-" in w or "'" in w or "’" in w:
            parts = [p for p in w.replace("’", "-").replace("'", "-").split("-") if p]
            return all(len(p) < self.min_len or self._known(p) for p in parts)
        return self._compound(w)

    def _known_uncached(self, word: str) -> bool:
        w = word.lower()
        if self._word_ok(w) or self._inflected(w):
            return True  # a dictionary word or term, or one with an inflection ending (Statine-n)
        if w in self.en and self.en.word_usage_frequency(w) > 1e-6:
            return True  # a common English word is language mixing (the other detector), not a typo
        return self._weak_ok(w) and not self._near_known(w)

    def check_word(self, word: str) -> bool:
        """True when `word` counts as a typo."""
        if len(word) < self.min_len or script_of(word) != "LATIN":
            return False
        if word.isupper() or any(c.isupper() for c in word[1:]):
            return False  # abbreviations (EKG, MRT) and mixed-case product names
        return not self._known(word)

    def detect(self, answer: str) -> Verdict:
        sents = sentences(answer)
        if not sents:
            return Verdict(False, status="empty", details={"n_typos": 0, "n_checked": 0})
        evidence, flagged, checked = [], [], 0
        for s in sents:
            ws = words(s)
            for k, w in enumerate(ws):
                if len(w) >= self.min_len and script_of(w) == "LATIN":
                    checked += 1
                if k and ws[k - 1].lower() == "morbus":
                    # an eponym (Morbus Crohn): a typo only when one edit from a known disease name
                    lw = w.lower()
                    if lw in self.terms.fixed or not any(v in self.terms.fixed for v in _edits1(lw)):
                        continue
                    flagged.append(w)
                    evidence.append(f"{w} — in: {s}")
                    continue
                if self.check_word(w):
                    flagged.append(w)
                    evidence.append(f"{w} — in: {s}")
        return Verdict(len(flagged) >= self.min_typos, evidence,
                       details={"n_typos": len(flagged), "n_checked": checked, "typos": flagged})
