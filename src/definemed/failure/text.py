"""Text helpers shared by the detectors: sentence and word splitting, scripts, German word lists.

Sentences come from SoMaJo (Proisl & Uhrig 2016; the tokenizer and sentence splitter of the
EmpiriST shared task on German web and social-media text, `de_CMC` model; GPL-3+, a pinned
dependency, not shipped), one line at a time (a line break always ends a sentence: headings,
list items). SoMaJo knows common abbreviations (bzw., Pat., z. B.) and ordinals ("1. Juli"); on
clinical text it still ends sentences at clipped forms it does not know ("in unserer stat. |
Behandlung", "die re. | Hand", "St. p. | Aneurysmablutung"), so a boundary is undone when the
sentence ends in such an abbreviation (`is_abbreviation`: a known one, a letter sequence of at most
three letters that is no German word, or the start of a longer German word that is no word itself:
unauff., geringgr., stat.) or in an ordinal ("vom 1. | Juli"), and never placed where no space
follows the full stop ("F10.2"). Word tokens are a regular expression over the sentence.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from definemed.failure.lexicon import german_words

# Abbreviations whose full stop never ends a sentence, beside those SoMaJo knows (German medical and
# everyday text; lower-case, without the dot)
ABBREVIATIONS = frozenset("""
bzw ca dr prof vgl evtl ggf inkl max min std nr usw etc sog bzgl st pat bds re li lt stat tgl tägl
amb ambul unauff mittelgr geringgr hochgr mäßiggr z b u a d h s o i v p g n j ca zn z.n v.a lk ll
""".split())
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_DROP_CLASSES = frozenset({"URL", "email_address", "mention", "hashtag", "XML_tag", "XML_entity", "emoticon",
                           "action_word"})


@dataclass(frozen=True)
class Token:
    """A SoMaJo token of a sentence: text, SoMaJo's class (regular, abbreviation, URL, email_address,
    ordinal, number, ...), character offsets in the sentence."""

    text: str
    kind: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _somajo():
    from somajo import SoMaJo

    return SoMaJo("de_CMC", split_camel_case=False, split_sentences=True, character_offsets=True)


@lru_cache(maxsize=50_000)
def is_abbreviation(word: str) -> bool:
    """`word` (without its full stop) is a clipped form: a known abbreviation, at most three letters
    and no German word (re., li., Ii., p.), or the start of a longer German word (wordfreq, Zipf >= 1)
    that Hunspell does not accept as a word itself (unauff., geringgr., insusp., fragl., subklin.)."""
    w = word.rstrip(".")
    if not w or not WORD.fullmatch(w):
        return False
    if w.lower() in ABBREVIATIONS:
        return True
    de = german_words()
    if de.as_written(w) or (w[:1].isupper() and de.as_written(w.lower())):
        return False
    return len(w) <= 3 or de.is_prefix(w.lower(), min_zipf=1.0)


def _ends_open(toks: list) -> bool:
    """The sentence ends at a full stop that belongs to an abbreviation or an ordinal."""
    last = toks[-1]
    if last.token_class in ("ordinal",) or (last.token_class == "abbreviation" and len(toks) > 1):
        return True
    if last.text == "." and len(toks) >= 2 and not toks[-2].space_after:
        return is_abbreviation(toks[-2].text)
    return False


def _line_sentences(line: str) -> list[tuple[str, list[Token]]]:
    groups: list[list] = []
    for toks in _somajo().tokenize_text([line]):
        glued = bool(groups) and not groups[-1][-1].space_after  # "(F10.2)": no space, no boundary
        if groups and (glued or _ends_open(groups[-1])):
            groups[-1] = groups[-1] + toks
        else:
            groups.append(list(toks))
    out = []
    for toks in groups:
        a, b = toks[0].character_offset[0], toks[-1].character_offset[1]
        sent = line[a:b]
        if WORD.search(sent):
            out.append((sent, [Token(t.text, t.token_class, t.character_offset[0] - a, t.character_offset[1] - a)
                               for t in toks]))
    return out


def sentence_tokens(text: str) -> list[tuple[str, list[Token]]]:
    """(sentence, its SoMaJo tokens) for every sentence of text (lines split first)."""
    if not text or not text.strip():
        return []
    out = []
    for line in text.splitlines():
        if WORD.search(line):
            out.extend(_line_sentences(line))
    return out


def sentences(text: str) -> list[str]:
    """Split text into sentences (SoMaJo, one line at a time; abbreviations and ordinals kept)."""
    return [s for s, _ in sentence_tokens(text)]


def plain(sentence: str, toks: list[Token]) -> str:
    """The sentence with URLs, e-mail addresses, hashtags, mentions, markup and emoticons blanked out
    (they carry no language)."""
    out = list(sentence)
    for t in toks:
        if t.kind in _DROP_CLASSES:
            out[t.start:t.end] = " " * (t.end - t.start)
    return "".join(out)


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
