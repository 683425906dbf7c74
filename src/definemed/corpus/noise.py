"""Controlled noise: typos and English sentences, planted at recorded rates.

The same functions build the labelled evaluation sets of the failure-analysis detectors (stage 07),
so detector precision and recall are measured against noise of the kind the corpus carries.
"""
from __future__ import annotations

import random

_KEYBOARD = {  # German QWERTZ neighbours
    "a": "sqy", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjz",
    "i": "uok", "j": "hku", "k": "jli", "l": "kop", "m": "nk", "n": "bmj", "o": "ipl", "p": "oü",
    "r": "etf", "s": "adw", "t": "rzg", "u": "zij", "v": "cbf", "w": "qes", "x": "ycs", "y": "xa",
    "z": "tuh",
}


def typo(word: str, r: random.Random) -> str:
    """One planted typo: swap two adjacent letters, drop one, double one or hit a neighbouring key.
    Always returns a string different from `word` (for words of at least 4 letters)."""
    for _ in range(8):
        i = r.randrange(1, len(word) - 1)  # keep the first letter (capitalisation) intact
        kind = r.randrange(4)
        if kind == 0:
            w = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif kind == 1:
            w = word[:i] + word[i + 1:]
        elif kind == 2:
            w = word[:i] + word[i] + word[i:]
        else:
            c = word[i].lower()
            w = word[:i] + r.choice(_KEYBOARD.get(c, "e")) + word[i + 1:]
        if w != word:
            return w
    return word[:-1]


def add_typos(text: str, rate: float, r: random.Random) -> tuple[str, list[tuple[str, str]], int]:
    """Give each eligible word (alphabetic, 4+ letters) a typo with probability `rate`.

    Returns the noisy text, the list of (original, misspelled) pairs in order, and the number of
    eligible words (so the realised rate can be measured against `rate`).
    """
    words = text.split(" ")
    planted = []
    eligible = 0
    for k, w in enumerate(words):
        core = w.rstrip(".,:;?!")
        if len(core) >= 4 and core.isalpha():
            eligible += 1
            if r.random() < rate:
                t = typo(core, r)
                words[k] = t + w[len(core):]
                planted.append((core, t))
    return " ".join(words), planted, eligible


def english_sentences(r: random.Random, n: int) -> list[str]:
    from definemed.corpus.vocab import ENGLISH

    return [r.choice(ENGLISH) for _ in range(n)]
