"""The German word lists the text detectors read: Debian's Hunspell dictionaries and wordfreq.

- `de_DE` (igerman98, reformed spelling) with Debian's German medical add-on `de_med`
  (hunspell-de-med, "medicalterms" by Tobias Quathamer: about 10,000 stems with de_DE affix flags:
  Bolus, Epikrise, Konsil, axillär, Hämatochezie, many drug names); `de_AT` (Jänner) and `de_CH`
  (ss for ß: regelmässig, Grösse) are asked only when de_DE rejects a word;
- wordfreq's German and English frequencies (`large`: web, subtitles, Wikipedia).

The dictionaries are the Debian packages `hunspell-de-de hunspell-de-at hunspell-de-ch
hunspell-de-med` in /usr/share/hunspell (installed by `make setup` through
scripts/install_system_deps.sh; GPL-2+/GPL-3+, so they are installed, not shipped with this MIT
package) and read by the pure-Python Hunspell port `spylls` (no C library). The directory can be
moved with the environment variable DEFINEMED_HUNSPELL_DIR. A missing file is a one-line error
naming it and the install command.

Imports nothing from the rest of the package: text.py (abbreviations) and terms.py (typos) use it.
"""
from __future__ import annotations

import bisect
import math
import os
from functools import lru_cache
from pathlib import Path

from definemed.errors import DefinemedError

HUNSPELL_DIR = Path("/usr/share/hunspell")
INSTALL_HINT = "run `make setup` (scripts/install_system_deps.sh: apt-get install hunspell-de-de " \
               "hunspell-de-at hunspell-de-ch hunspell-de-med)"
# Hunspell dictionary -> the file of its medical add-on (read with the same affix file)
MEDICAL_ADDON = "de_med.dic"


def hunspell_dir() -> Path:
    return Path(os.environ.get("DEFINEMED_HUNSPELL_DIR") or HUNSPELL_DIR)


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DefinemedError(f"{path}: Hunspell dictionary missing; {INSTALL_HINT}")
    return path


def load_hunspell(name: str, medical: bool = False):
    """spylls Dictionary for /usr/share/hunspell/<name>.{aff,dic}; with `medical`, the words of
    de_med.dic (same affix flags, Latin-1 encoded) are merged into it."""
    from spylls.hunspell import Dictionary, readers
    from spylls.hunspell.readers.file_reader import FileReader

    base = hunspell_dir() / name
    aff_path, dic_path = _need(base.with_suffix(".aff")), _need(base.with_suffix(".dic"))
    aff, context = readers.read_aff(FileReader(str(aff_path)))
    dic = readers.read_dic(FileReader(str(dic_path), encoding=context.encoding), aff=aff, context=context)
    if medical:
        med_path = _need(hunspell_dir() / MEDICAL_ADDON)
        med = readers.read_dic(FileReader(str(med_path), encoding="ISO-8859-1"), aff=aff, context=context)
        dic.words.extend(med.words)
        for k, v in med.index.items():
            dic.index[k].extend(v)
        for k, v in med.lowercase_index.items():
            dic.lowercase_index[k].extend(v)
    return Dictionary(aff, dic)


class GermanWords:
    """The German word list of the detectors. `w in words` asks Hunspell (de_DE + medical add-on,
    then de_AT, then de_CH); `zipf` asks wordfreq; `is_prefix` tells whether a longer wordfreq word
    starts with the string (a clipped abbreviation: unauff., geringgr.)."""

    def __init__(self):
        import wordfreq

        self.hunspell = load_hunspell("de_DE", medical=True)
        for name in ("de_AT", "de_CH"):  # fail now, not in the middle of a run
            _need(hunspell_dir() / f"{name}.dic")
        self._variants: list = []
        # casefolded word -> frequency, German and (for English words in German answers) English
        self._freq = {"de": wordfreq.get_frequency_dict("de", "large"),
                      "en": wordfreq.get_frequency_dict("en", "large")}
        self._sorted: list[str] | None = None
        self._lookup = lru_cache(maxsize=200_000)(self._lookup_uncached)
        self._as_written = lru_cache(maxsize=200_000)(self._as_written_uncached)

    def _variant_dicts(self) -> list:
        if not self._variants:  # loaded on first need (about 2 s each)
            self._variants = [load_hunspell("de_AT"), load_hunspell("de_CH")]
        return self._variants

    def _lookup_uncached(self, word: str) -> bool:
        forms = [word] + ([word.capitalize()] if word.islower() else [])
        if any(self.hunspell.lookup(f) for f in forms):
            return True
        return any(d.lookup(f) for d in self._variant_dicts() for f in forms)

    def __contains__(self, word: str) -> bool:
        """Hunspell accepts the word as written, or (lower-case input) capitalised (a noun)."""
        return bool(word) and self._lookup(word)

    def _as_written_uncached(self, word: str) -> bool:
        return bool(self.hunspell.lookup(word) or any(d.lookup(word) for d in self._variant_dicts()))

    def as_written(self, word: str) -> bool:
        """Hunspell accepts exactly this spelling (case included): "patient" and "hotel" are not German,
        "Patient" and "Hotel" are."""
        return bool(word) and self._as_written(word)

    def zipf(self, word: str, lang: str = "de") -> float:
        """wordfreq's Zipf frequency (log10 per billion words; 0 when unlisted) in German or English.
        wordfreq casefolds, so it cannot tell ß from ss."""
        f = self._freq[lang].get(word.casefold())
        return math.log10(f) + 9.0 if f else 0.0

    def is_prefix(self, stem: str, min_zipf: float = 2.0) -> bool:
        """A wordfreq German word at least `min_zipf` frequent and longer than `stem` starts with it."""
        if self._sorted is None:
            self._sorted = sorted(self._freq["de"])
        s = stem.casefold()
        i = bisect.bisect_right(self._sorted, s)
        while i < len(self._sorted) and self._sorted[i].startswith(s):
            if self.zipf(self._sorted[i]) >= min_zipf:
                return True
            i += 1
        return False

    def shadowed(self, word: str, margin: float = 1.0, floor: float = 3.0) -> bool:
        """A word one edit from a Hunspell word that is at least `margin` Zipf (10x) more frequent and
        common (>= `floor`): a frequent misspelling (Standart, Ergebniss, wärend), not a word of its
        own. Swiss ss for ß is a spelling of its own (de_CH), not a misspelling."""
        w = word.lower()
        z = self.zipf(w)
        cands = edits1(w) - {w}
        return any(self.zipf(v) >= max(z + margin, floor) and v in self for v in cands)


def edits1(word: str) -> set[str]:
    """Every string one deletion, swap, replacement or insertion away from word (Norvig)."""
    letters = "abcdefghijklmnopqrstuvwxyzäöüß"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in letters]
    inserts = [a + c + b for a, b in splits for c in letters]
    return set(deletes + swaps + replaces + inserts)


@lru_cache(maxsize=1)
def german_words() -> GermanWords:
    return GermanWords()
