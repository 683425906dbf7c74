"""Text helpers shared by the detectors: sentence and word splitting, scripts, German word lists.

Pure functions on strings; no model, no I/O.
"""
from __future__ import annotations

import re
import unicodedata

# Abbreviations whose full stop does not end a sentence (German medical and everyday text).
_ABBREV = ["z. B.", "z.B.", "u. a.", "u.a.", "d. h.", "d.h.", "bzw.", "ca.", "Dr.", "Prof.", "vgl.", "evtl.",
           "ggf.", "inkl.", "max.", "min.", "Std.", "Nr.", "s. o.", "s. u.", "usw.", "etc.", "i. v.", "i.v.",
           "p. o.", "p.o.", "o. g.", "sog.", "mg.", "bzgl.", "u. U.", "v. a.", "St."]
_PROTECT = "\u2024"  # one dot leader stands in for a protected full stop while splitting
_SENT_END = re.compile(r"(?<=[.!?…])[\"'»«)\]]*\s+|\n+")
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def sentences(text: str) -> list[str]:
    """Split text into sentences at . ! ? … followed by space, and at line breaks; keeps abbreviations."""
    if not text or not text.strip():
        return []
    t = text
    for a in _ABBREV:
        t = t.replace(a, a.replace(".", _PROTECT))
    t = re.sub(r"(?<=\d)\.(?=\s*\d)", _PROTECT, t)  # 1.5 mg, 12. 3.
    parts = [p.strip().replace(_PROTECT, ".") for p in _SENT_END.split(t)]
    return [p for p in parts if p and WORD.search(p)]


def words(text: str) -> list[str]:
    """Alphabetic word tokens (letters of any script, inner hyphens and apostrophes kept)."""
    return WORD.findall(text or "")


def word_spans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text or "")]


def _script_of_char(ch: str) -> str:
    if ch == "µ":  # MICRO SIGN: the unit prefix of µg and µmol, written with Latin letters
        return "LATIN"
    head = unicodedata.name(ch, "").split(" ")[0]
    return "CJK" if head in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL") else head or "UNKNOWN"


def script_of(word: str) -> str:
    """The Unicode script of most of a word's letters: LATIN, CYRILLIC, GREEK, CJK, ARABIC, ...
    (ties go to the first letter's). The micro sign counts as Latin (µg, µmol/l), and a Greek
    letter before Latin ones (β-Blocker, γ-GT) leaves the word Latin."""
    counts: dict[str, int] = {}
    for ch in word:
        if ch.isalpha():
            sc = _script_of_char(ch)
            counts[sc] = counts.get(sc, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else "NONE"


# Function words: excluded from information density (content words only).
STOPWORDS = frozenset("""
aber alle allem allen aller alles als also am an andere anderen anderer anderes auch auf aus bei beide
beiden bin bis bist da dabei dadurch dafür daher damit dann darauf darin darum das dass daß dein deine
dem den denen denn der deren des dessen deshalb die dies diese diesem diesen dieser dieses doch dort du
durch ein eine einem einen einer eines einige einigen er es etwa etwas euch euer für gegen gibt hat
hatte hätte haben hier ich ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im in indem ins ist ja jede
jedem jeden jeder jedes jedoch jene kann kein keine keinem keinen keiner können könnte man manche mehr
mein meine mich mir mit muss müssen nach nicht nichts noch nun nur ob oder ohne per sehr sein seine
seinem seinen seiner seit sich sie sind so solche soll sollte sondern sowie über um und uns unser unter
viel vom von vor war waren warum was weil welche welchem welchen welcher welches wenn wer werden wie
wieder will wir wird wo wurde wurden zu zum zur zwar zwischen
""".split())

# Wording that signals uncertainty (hedging) and certainty; used by the fact-bank stand-in judge.
HEDGES = ("möglicherweise", "vielleicht", "eventuell", "wahrscheinlich", "vermutlich", "unter umständen",
          "in der regel", "meistens", "häufig", "oft", "kann", "können", "könnte", "könnten", "scheint",
          "nicht sicher", "unsicher", "nach meinem wissen", "soweit bekannt", "ärztlich abklären",
          "arzt aufsuchen", "arzt fragen", "fachinformation", "keine gewähr", "ich vermute", "denkbar",
          "tendenziell", "gegebenenfalls", "ggf.")
CERTAINTY = ("definitiv", "eindeutig", "zweifellos", "ohne zweifel", "garantiert", "mit sicherheit",
             "immer", "ausnahmslos", "ausschließlich", "zu hundert prozent", "100 %", "100%", "selbstverständlich",
             "auf jeden fall", "unbestreitbar", "bewiesen", "steht fest", "sicher ist", "niemals", "nie",
             "klar ist", "zweifelsfrei", "absolut")


def find_markers(text: str, markers: tuple[str, ...]) -> list[str]:
    """The markers that occur in text as whole words (case-insensitive), in marker order."""
    low = " " + re.sub(r"\s+", " ", (text or "").lower()) + " "
    found = []
    for m in markers:
        if re.search(r"(?<![\wäöüß])" + re.escape(m) + r"(?![\wäöüß])", low):
            found.append(m)
    return found
