"""Language mixing: sentence- and span-level language identification with lingua (models in the wheel).

An answer to a German question is *mixed* when a non-German span of at least `min_span_words` words
that are not medical terms, names or titles appears, in a language outside `allowed_languages`
(medical Latin), with lingua confidence >= `min_confidence` on the span's remaining words (every span
is checked; see `_foreign`); or when a run of words in another script (Cyrillic, Greek, CJK, ...)
appears. Neutral, removed before a span's language is decided: terminology (below), names and
titles (capitalised runs, words after Dr./Frau/Herr: `name_tokens`), abbreviations and units (µg
counts as Latin script; mg/dl, mmHg are too short or mixed case to carry a language). Drug names, fact-bank entities, medical
Latin and corpus terminology are removed before a span's language is decided, so "Arteria carotis
interna" or "Velorixan" never count, while "The patient was discharged" does.
"""
from __future__ import annotations

import re
from functools import lru_cache

from definemed.config import FailureConfig
from definemed.errors import DefinemedError
from definemed.failure.terms import Terms, english_dictionary, german_dictionary
from definemed.failure.lexicon import german_words
from definemed.failure.text import WORD, plain, script_of, sentence_tokens
from definemed.failure.verdict import Verdict


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]):
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    langs = []
    for c in codes:
        try:
            langs.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(c)))
        except ValueError:
            raise DefinemedError(f"failure.languages: '{c}' is not an ISO 639-1 code lingua knows") from None
    if len(langs) < 2:
        raise DefinemedError("failure.languages: need at least two languages (German and one other)")
    return LanguageDetectorBuilder.from_languages(*langs).with_preloaded_language_models().build()


# lower-case words inside a title or name (Journal of Medicine, Ludwig van Beethoven)
_NAME_JOINERS = frozenset({"of", "the", "and", "for", "on", "in", "de", "van", "von", "der", "den", "zu", "y",
                           "da", "di", "du", "la", "le"})
# a capitalised word after these is a name (Frau Kowalczyk, Dr. Oyelaran)
_NAME_CUES = frozenset({"dr", "prof", "med", "frau", "herr", "herrn", "familie", "schwester", "pfleger"})


# code in a sentence (shell commands, paths, assignments): no natural language to judge
_CODE = re.compile(r"(?:^|\s)(?:\./|~/|\$ |--?[a-z][\w-]+\b)|\w\(\)|==|=>|[{}]|\w/\w+/|^\s*(?:git|pip|npm|sudo|cd) ")
_UMLAUTS = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"))


def german_as_written(word: str) -> bool:
    """Hunspell (de_DE with the medical add-on, de_AT, de_CH) accepts the word as written, or
    lower-cased (a capitalised adjective at the start of a sentence), or with ae/oe/ue written as
    umlauts ("geduengter" is "gedüngter": German typed without umlauts)."""
    de = german_words()
    cands = {word, word.lower()}
    low = word.lower()
    if any(a in low for a, _ in _UMLAUTS):
        u = low
        for a, b in _UMLAUTS:
            u = u.replace(a, b)
        cands |= {u, u.capitalize()}
    return any(de.as_written(c) for c in cands)


def name_tokens(toks: list[str]) -> set[int]:
    """Indices of tokens that belong to names and titles: a capitalised word after a title or
    salutation, and runs of at least two capitalised words (joined by of/the/van/von/...) that do
    not start the sentence, or of at least three that do ("Die Studie" is not a name)."""
    cap = [t[:1].isupper() for t in toks]
    out: set[int] = set()
    for i, t in enumerate(toks):
        if cap[i] and i and toks[i - 1].lower() in _NAME_CUES:
            out.add(i)
    i = 0
    while i < len(toks):
        if not cap[i]:
            i += 1
            continue
        j, run = i, [i]
        while j + 1 < len(toks):
            if cap[j + 1]:
                j += 1
                run.append(j)
            elif (toks[j + 1].lower() in _NAME_JOINERS and j + 2 < len(toks) and cap[j + 2]):
                run.extend((j + 1, j + 2))
                j += 2
            else:
                break
        n_cap = sum(cap[k] for k in run)
        if n_cap >= (3 if i == 0 else 2):
            out.update(run)
        i = j + 1
    return out


class LanguageMixDetector:
    def __init__(self, cfg: FailureConfig, terms: Terms):
        codes = tuple(sorted(set(cfg.languages) | {"de"}))
        self.detector = _detector(codes)
        self._pair = _detector(tuple(sorted({"de", "en"} | ({"la"} & set(codes)))))
        self.allowed = {c.upper() for c in cfg.allowed_languages} | {"DE"}
        self.min_words = cfg.min_span_words
        self.min_conf = cfg.min_confidence
        self.terms = terms
        en = self._en = english_dictionary()
        self._de = german_dictionary()
        # corpus terms that are also English words (the corpus carries English boilerplate) stay countable
        self._neutral_corpus = frozenset(w for w in terms.corpus if w not in en)

    def _neutral(self, w: str) -> bool:
        return self.terms.is_fixed_term(w) or w.lower() in self._neutral_corpus

    def _foreign(self, text: str, english_run: bool = False) -> tuple[str, float] | None:
        """(language, confidence) when text's top language is a counted foreign one with confidence
        >= min_confidence, else None. Every span passes this check. For a run of English-leaning
        dictionary words the confidence is lingua's between German, English and Latin only (on
        three or four words its confidence over all candidate languages is spread thin)."""
        vals = self.detector.compute_language_confidence_values(text)
        if not vals:
            return None
        top = vals[0]
        code = top.language.iso_code_639_1.name
        if code in self.allowed:
            return None
        conf = float(top.value)
        if english_run and code == "EN" and conf < self.min_conf:
            conf = max((float(v.value) for v in self._pair.compute_language_confidence_values(text)
                        if v.language.iso_code_639_1.name == "EN"), default=0.0)
        if conf < self.min_conf:
            return None
        return code.lower(), conf

    def _content(self, ws: list[tuple[int, int, str]], names: set[int], a: int = 0, b: int | None = None) -> list[str]:
        """The words between characters a and b that decide a span's language: Latin script, not
        terminology, not part of a name or title (capitalised runs of the whole sentence: Frau
        Kowalczyk, New England Journal of Medicine, Plug and Play)."""
        b = 10**9 if b is None else b
        return [w for i, (x, y, w) in enumerate(ws)
                if a <= x and y <= b and i not in names and script_of(w) == "LATIN" and not self._neutral(w)]

    def _enough_foreign(self, content: list[str]) -> bool:
        """At least min_span_words of the words are no German word (Hunspell de_DE with the medical
        add-on, de_AT, de_CH; umlauts typed as ae/oe/ue allowed): German that lingua reads as French
        ("Benigne essentielle Hypertonie") or Dutch ("geduengter Erde") is German."""
        return sum(not german_as_written(w) for w in content) >= self.min_words

    def _english_leaning(self, w: str) -> bool:
        w = w.lower()
        if w not in self._en:
            return False
        return w not in self._de or self._en.word_usage_frequency(w) > self._de.word_usage_frequency(w)

    def _english_runs(self, s: str) -> list[tuple[int, int]]:
        """Character spans of maximal runs of English-leaning words (by the two dictionaries' word
        frequencies): lingua's own span boundaries drift by a word or two inside short sentences."""
        out, run = [], []
        for t in [(m.start(), m.end(), m.group()) for m in WORD.finditer(s)] + [(len(s), len(s), "")]:
            if t[2] and (self._english_leaning(t[2]) or (run and self._neutral(t[2]))):
                run.append(t)
                continue
            if len(run) >= self.min_words:
                out.append((run[0][0], run[-1][1]))
            run = []
        return out

    def detect(self, answer: str) -> Verdict:
        sents = sentence_tokens(answer)
        if not sents:
            return Verdict(False, status="empty", details={"n_sentences": 0})
        evidence: list[str] = []
        langs: dict[str, int] = {}
        foreign_words = 0
        n_words = 0
        for raw, stoks in sents:
            s = plain(raw, stoks)  # URLs, e-mail addresses, hashtags blanked out
            toks = [(m.start(), m.end(), m.group()) for m in WORD.finditer(s)]
            n_words += len(toks)
            # 1. other scripts: a run of min_span_words words, or most of the sentence
            run: list[tuple[int, int, str]] = []
            other = [t for t in toks if script_of(t[2]) not in ("LATIN", "NONE")]
            for t in toks + [(0, 0, "")]:
                if t[2] and script_of(t[2]) not in ("LATIN", "NONE"):
                    run.append(t)
                    continue
                if run and (len(run) >= self.min_words or 2 * len(other) >= len(toks)):
                    sc = script_of(run[0][2]).lower()
                    evidence.append(f"[{sc}] {s[run[0][0]:run[-1][1]]}")
                    langs[sc] = langs.get(sc, 0) + 1
                    foreign_words += len(run)
                run = []
            if _CODE.search(s):
                continue  # a command line or code: no natural language (git remote add mirror)
            names = name_tokens([w for _, _, w in toks])
            # 2. the whole sentence in a foreign language
            content = self._content(toks, names)
            if len(content) >= self.min_words and self._enough_foreign(content):
                mostly_en = sum(map(self._english_leaning, content)) >= 0.8 * len(content)
                hit = self._foreign(" ".join(content), english_run=mostly_en)
                if hit:
                    evidence.append(f"[{hit[0]} {hit[1]:.2f}] {raw}")
                    langs[hit[0]] = langs.get(hit[0], 0) + 1
                    foreign_words += len(content)
                    continue
            # 3. a foreign span inside a German sentence: lingua's spans and runs of English words
            spans = [(a, b, True) for a, b in self._english_runs(s)] + [
                (r.start_index, r.end_index, False) for r in self.detector.detect_multiple_languages_of(s)
                if r.language.iso_code_639_1.name not in self.allowed]
            for a, b, english_run in spans:
                span = s[a:b].strip()
                content = self._content(toks, names, a, b)
                if len(content) < self.min_words or not self._enough_foreign(content):
                    continue
                hit = self._foreign(" ".join(content), english_run=english_run)
                if hit:
                    evidence.append(f"[{hit[0]} {hit[1]:.2f}] …{span}…")
                    langs[hit[0]] = langs.get(hit[0], 0) + 1
                    foreign_words += len(content)
                    break  # one piece of evidence per sentence
        return Verdict(bool(evidence), evidence, details={
            "n_sentences": len(sents), "n_words": n_words, "foreign_words": foreign_words,
            "foreign_share": foreign_words / max(n_words, 1), "languages": langs})
