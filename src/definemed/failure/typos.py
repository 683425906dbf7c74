"""Typos: words that neither the German word list nor the medical vocabulary explains.

The word list (terms.GermanWords) is the Hunspell de_DE dictionary (affixes and compounding rules
applied by spylls) plus wordfreq's German frequencies. A word is accepted, in this order, when
- Hunspell accepts it, or it is medical terminology (fact bank, medical Latin, clinical short forms,
  corpus terms; see terms.py), or a known word with an inflection or derivation ending;
- wordfreq lists it and it is not *shadowed*: one edit from a Hunspell word ten times more frequent
  (the web has frequent misspellings too: Standart, Ergebniss, wärend, dannach);
- it is a common English word (language mixing, counted by the other detector);
- it follows word-formation patterns: drug-name stems (-olol, -xaban, -terol), Greek/Latin medical
  endings (-itis, -ämie, -skopie, -aris, -osum), compounds of known parts with linking -s-/-n-/-es-
  (Humerus|kopf|fraktur, Obstipation|s|prophylaxe), hyphenated known parts; and no common
  word is one edit away (a pattern that accepts "Hypertnoie" would hide a misspelling).
Not checked: words shorter than `typo_min_word_len`, abbreviations and mixed case (EKG, HbA1c),
words in another script, names after a title or salutation (Dr. Oyelaran, Frau Kowalczyk), and
eponyms after "Morbus" unless one edit from a known disease name.
A real-word error ("den" for "dem"; "Fiber" for "Fieber", an English word) is invisible to a word
list; recall is measured (realism.py), not assumed.
"""
from __future__ import annotations

import re
from functools import lru_cache

from definemed.config import FailureConfig
from definemed.failure.terms import Terms, _edits1, german_words, is_drug_like
from definemed.failure.text import WORD, is_abbreviation, script_of, sentence_tokens
from definemed.failure.verdict import Verdict

_LINKS = ("", "s", "es", "n", "en", "e", "er")
_INFLECTIONS = ("n", "en", "e", "er", "es", "em", "s", "ern")
_DERIVATIONS = ("heit", "keit", "ung", "lich", "isch", "ig", "bar", "los")
# Greek/Latin medical word formation: a word with one of these endings is terminology, not a typo
MEDICAL_SUFFIXES = ("itis", "ose", "osen", "ämie", "ämien", "ektomie", "skopie", "graphie", "grafie",
                    "gramm", "logie", "loge", "login", "pathie", "algie", "plasie", "trophie", "stase",
                    "lyse", "tomie", "therapie", "kokken", "steroid", "steroide", "thyroxin", "bacter",
                    "ation", "ationen", "ismus", "zyt", "zyten", "om", "ome", "iasis", "ale", "ales",
                    "alen", "iv", "ive", "iven", "iver", "ives", "är", "äre", "ären", "ärer",
                    # Latin anatomy and pathology (Ramus interventricularis, Ulcus cruris venosum)
                    "aris", "alis", "osus", "osum", "osa", "ensis", "osis", "ialis", "icus", "icum",
                    "ium", "urie", "ämisch", "plegie", "parese", "skopisch", "graphisch", "logisch",
                    # Latin-derived German adjectives (venös, aphthös, ödematös)
                    "ös", "öse", "ösen", "öser", "öses", "ösem")
# words after these are names (Dr. Oyelaran, Frau Kowalczyk, Prof. Dr. med. Brandstätter)
NAME_CUES = frozenset({"dr", "prof", "med", "frau", "herr", "herrn", "familie", "schwester", "pfleger",
                       "pflegerin", "oberarzt", "oberärztin", "chefarzt", "chefärztin", "kollege", "kollegin",
                       "patient", "patientin", "pat", "pt", "fr", "hr", "sr", "dres", "pd", "doz"})
# a dose after a word makes it a drug name (Pantozol 40 mg 1-0-0, Lovenox 0,4 ml s.c., Tavor 1 mg b.Bed.)
_DOSE = re.compile(r"^\W{0,3}(?:\d+(?:[.,]\d+)?\s*(?:mg|µg|mcg|ug|g|ml|IE|I\.E\.|E|Tbl|Tabl|Kps|Kapseln|"
                   r"Amp|Hub|Hübe|Trpf|Tropfen|Btl|Beutel|%|mmol|mval)\b|\d\s*-\s*\d\s*-\s*\d)", re.I)
MIN_ZIPF = 1.0  # wordfreq lists words down to Zipf 1 (one per 100 million words)
PART_ZIPF = 1.5  # a compound part from wordfreq alone must be a little more frequent than that
COMMON_ZIPF = 3.0  # a word this frequent one edit away makes a pattern-accepted word suspect
SKIP_CLASSES = frozenset({"URL", "email_address", "mention", "hashtag", "abbreviation", "XML_tag", "XML_entity"})
ENGLISH_ZIPF = 3.0
CORRECTION_ZIPF = 2.0  # a single-edit correction must be a German word at least this frequent (1 per 10M words)
# short words a missing space leaves on either side (Extremität|mit, in|unserer, Abteilung|für)
_SHORT_WORDS = frozenset("in im an am um zu zum zur mit für von vom bei als auf aus und der die das den dem des ein "
                         "bis ob".split())  # English words at least this frequent (once per million words) are English


class TypoDetector:
    def __init__(self, cfg: FailureConfig, terms: Terms):
        self.de = german_words()
        self.terms = terms
        self.min_len = cfg.typo_min_word_len
        self.min_typos = cfg.min_typos
        self._known = lru_cache(maxsize=100_000)(self._known_uncached)
        self._part = lru_cache(maxsize=100_000)(self._part_ok)

    def _term(self, w: str) -> bool:
        return w in self.terms.corpus or w in self.terms.fixed

    def _word_ok(self, w: str) -> bool:
        """A lower-case word Hunspell or the medical vocabulary knows."""
        return self._term(w) or w in self.de

    def _part_ok(self, w: str) -> bool:
        """A compound part: a known word, or a wordfreq word that is no frequent misspelling."""
        return self._word_ok(w) or (self.de.zipf(w) >= PART_ZIPF and not self.de.shadowed(w))

    def _compound(self, w: str, depth: int = 0) -> bool:
        """w splits into known parts of at least 4 letters (linking -s-, -n-, -en-, ... allowed)."""
        if depth > 2 or len(w) < 8:
            return False
        for i in range(4, len(w) - 3):
            head, tail = w[:i], w[i:]
            if not (self._part(tail) or self._inflected(tail) or self._compound(tail, depth + 1)):
                continue
            for link in _LINKS:
                stem = head[: len(head) - len(link)] if link else head
                if link == "n" and not stem.endswith("e"):
                    continue  # -n- links only after -e (Lunge-n-funktion), never "Krank-n-haus"
                if head.endswith(link) and len(stem) >= 4 and (
                        self._part(stem) or (not link and self._word_ok(stem + "e"))
                        or self._compound(stem, depth + 1)):
                    return True
        return False

    def _inflected(self, w: str, strict: bool = False) -> bool:
        """w is a known word or term with an inflection or derivation ending (Betablocker-n,
        Ileum-s, verwirrt-heit); strict: the stem is a Hunspell word or a term, not only listed by
        wordfreq."""
        known = self._word_ok if strict else self._part
        for end in _INFLECTIONS + _DERIVATIONS:
            if w.endswith(end) and len(w) - len(end) >= 4:
                stem = w[: -len(end)]
                if end == "n" and not stem.endswith(("e", "el", "er")):
                    continue  # Betablocker-n, Kurve-n; never "Patient-n"
                if end[0] == "e" and stem.endswith("e"):
                    continue  # never "werde-en"
                if end == "s" and stem.endswith(("s", "ß", "x", "z")):
                    continue  # never "Ergebnis-s"
                if known(stem):
                    return True
        return False

    def _near_known(self, w: str) -> bool:
        """A common word is one edit away (not just a different ending): a word that only a pattern
        accepts but sits next to a common word is more likely that word misspelled."""
        def spelling_variant(v: str) -> bool:  # Appendizitis / appendicitis, Karzinom / carcinom
            diff = [i for i in range(len(w)) if w[i] != v[i]] if len(v) == len(w) else []
            return len(diff) == 1 and {w[diff[0]], v[diff[0]]} <= {"c", "k", "z"}

        return any((self._term(v) or (self.de.zipf(v) >= COMMON_ZIPF and v in self.de)) for v in _edits1(w)
                   if v != w and not (w.startswith(v) or v.startswith(w) or spelling_variant(v)))

    def _weak_ok(self, w: str) -> bool:
        """Pattern-based acceptance (drug-name stems, Greek/Latin endings, compounds): right for
        unseen terminology, but also for some misspellings, hence the _near_known check."""
        if is_drug_like(w):
            return True
        if len(w) >= 8 and w.endswith(MEDICAL_SUFFIXES):
            return True
        if "-" in w or "'" in w or "’" in w:
            parts = [p for p in w.replace("’", "-").replace("'", "-").split("-") if p]
            return all(len(p) < self.min_len or self._known(p) for p in parts)
        return self._compound(w)

    def _known_uncached(self, word: str) -> bool:
        w = word.lower()
        if self._word_ok(w) or word in self.de or self._inflected(w, strict=True):
            return True  # a dictionary word or term, or one with an inflection ending (Statine-n)
        if self.de.zipf(w, "en") >= ENGLISH_ZIPF:
            return True  # a common English word is language mixing (the other detector), not a typo
        if self.de.zipf(w) >= MIN_ZIPF:
            return not self.de.shadowed(w)  # listed by wordfreq and no frequent misspelling
        return (self._inflected(w) or self._weak_ok(w)) and not self._near_known(w)

    def _plain(self, w: str) -> bool:
        """Hunspell (compounding included) or the vocabulary knows the word: the cheap check for
        correction candidates (no inflection or compound search of our own)."""
        return self._word_ok(w.lower()) or w in self.de

    def _correction(self, word: str) -> str | None:
        """A spelling the word is likely a slip of, or None: what a spell checker would suggest.
        Candidates, cheapest first: OCR confusions (l/I at the start: lntensivstation, lhre; li for
        h: Weicliteildeckung; rn for m), a missing space between two German words (Extremitätmit,
        inunserer), a lost umlaut or ß (Blutungsanamie, mäsig), any single edit that wordfreq lists as a
        German word at least CORRECTION_ZIPF frequent and Hunspell (or the vocabulary) accepts
        (durchgefürhrt, Medilkation, Paracetmol), and for long words one deleted or swapped letter
        that Hunspell's compounding accepts (Tumornachsorgetuntersuchung, Lichtraektion). A word
        nothing near is known is more likely a name, brand or term the lists lack than a misspelling."""
        w = word
        cands = []
        if w[:1] == "l" and len(w) > 1:
            cands += ["I" + w[1:]]
        if w[:1] == "I" and len(w) > 1:
            cands += ["l" + w[1:]]
        for a, b in (("li", "h"), ("rn", "m"), ("cl", "d"), ("ii", "ü"), ("q", "g")):
            if a in w:
                cands.append(w.replace(a, b, 1))
        for c in cands:
            if self._plain(c):
                return c
        for i in range(2, len(w) - 1):  # a missing space: both halves German words
            head, tail = w[:i], w[i:]
            if (len(head) >= 3 or head.lower() in _SHORT_WORDS) and (len(tail) >= 3 or tail in _SHORT_WORDS) \
                    and self._word_ok(head.lower()) and (tail in self.de or tail.lower() in _SHORT_WORDS):
                return f"{head} {tail}"
        low = w.lower()
        umlaut = [low.replace(a, b, 1) for a, b in (("a", "ä"), ("o", "ö"), ("u", "ü"), ("ss", "ß"), ("s", "ß"))
                  if a in low]
        for c in umlaut:
            if self._plain(c):
                return c
        for c in _edits1(low):
            if c != low and (self._term(c) or (self.de.zipf(c) >= CORRECTION_ZIPF and c in self.de)):
                return c
        if len(low) >= 10:
            near = [low[:i] + low[i + 1:] for i in range(len(low))] + [
                low[:i] + low[i + 1] + low[i] + low[i + 2:] for i in range(len(low) - 1)]
            for c in near:
                if c != low and c in self.de:
                    return c
        return None

    def check_word(self, word: str) -> bool:
        """True when `word` counts as a typo: no list or rule explains it, and a correction is near."""
        if len(word) < self.min_len or script_of(word) != "LATIN":
            return False
        if word.isupper() or any(c.isupper() for c in word[1:]):
            return False  # abbreviations (EKG, MRT) and mixed case product names
        return not self._known(word) and self._correction(word) is not None

    def detect(self, answer: str) -> Verdict:
        sents = sentence_tokens(answer)
        if not sents:
            return Verdict(False, status="empty",
                           details={"n_typos": 0, "n_checked": 0, "n_words": 0, "per_1000_words": 0.0})
        evidence, flagged, checked, n_words = [], [], 0, 0
        for s, toks in sents:
            skip = [(t.start, t.end) for t in toks if t.kind in SKIP_CLASSES]
            ws = [(m.start(), m.end(), m.group()) for m in WORD.finditer(s)]
            n_words += len(ws)
            name = False
            for k, (a, b, w) in enumerate(ws):
                prev = ws[k - 1][2].lower() if k else ""
                name = w[:1].isupper() and (prev in NAME_CUES or (name and prev not in NAME_CUES))
                if name:
                    continue  # a name after a title or salutation (Dr. Oyelaran, Frau Kowalczyk)
                if any(x <= a and b <= y for x, y in skip):
                    continue  # inside a URL, an e-mail address, a hashtag, a known abbreviation
                if s[b:b + 1] == "." and is_abbreviation(w):
                    continue  # a clipped clinical form with its full stop (unauff., geringgr., Pat.)
                if w[:1].isupper() and _DOSE.match(s[b:b + 24]):
                    continue  # a drug (brand) name before its dose (Pantozol 40 mg, Clexane 0,4 ml)
                if len(w) >= self.min_len and script_of(w) == "LATIN":
                    checked += 1
                if prev == "morbus":
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
                       details={"n_typos": len(flagged), "n_checked": checked, "n_words": n_words,
                                "per_1000_words": 1000.0 * len(flagged) / max(n_words, 1), "typos": flagged})
