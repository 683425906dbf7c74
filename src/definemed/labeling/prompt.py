"""The annotation prompt: a versioned file in prompts/, a document budget, and tolerant answer parsing.

Pure functions: `load_prompt` (read + validate), `truncate` (character budget at a word boundary),
`render` (fill the placeholder), `parse_answer` (answer text -> 1 / 0 / None).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from definemed import paths
from definemed.errors import DefinemedError

PLACEHOLDER = "{document}"
TRUNCATION_MARK = " […]"


@dataclass(frozen=True)
class Prompt:
    """A loaded prompt template: the text around one {document} placeholder, and where it came from."""

    template: str
    source: str
    version: str
    sha256: str

    def render(self, document: str) -> str:
        # str.replace, not str.format: documents and prompts may contain braces.
        return self.template.replace(PLACEHOLDER, document)


def resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else paths.ROOT / p


def load_prompt(path: str | Path, positive: str = "JA", negative: str = "NEIN") -> Prompt:
    """Read a prompt file; leading `# key: value` lines are metadata and are not sent.

    The body must contain the {document} placeholder exactly once and name both answer words.
    """
    file = resolve(path)
    if not file.is_file():
        raise DefinemedError(f"{file}: prompt file not found")
    lines = file.read_text(encoding="utf-8").splitlines()
    meta, i = {}, 0
    while i < len(lines) and lines[i].startswith("#"):
        key, _, value = lines[i].lstrip("# ").partition(":")
        if value:
            meta[key.strip()] = value.strip()
        i += 1
    body = "\n".join(lines[i:]).strip("\n") + "\n"
    n = body.count(PLACEHOLDER)
    if n != 1:
        raise DefinemedError(f"{file}: the prompt must contain the placeholder {PLACEHOLDER} exactly once (found {n})")
    for word in (positive, negative):
        if not re.search(rf"\b{re.escape(word)}\b", body):
            raise DefinemedError(f"{file}: the prompt never names the answer word '{word}' (label.positive_word / negative_word)")
    return Prompt(body, str(file), meta.get("version", "unversioned"), hashlib.sha256(body.encode()).hexdigest())


def truncate(text: str, max_chars: int) -> str:
    """Cut a document to at most `max_chars` characters at a word boundary, marking the cut."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(TRUNCATION_MARK)]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip() + TRUNCATION_MARK


_STRIP = " \t\r\n*_`'\".,;:!?()[]{}<>-"


def parse_answer(answer, positive: str = "JA", negative: str = "NEIN") -> int | None:
    """1 (positive word), 0 (negative word) or None (no decision), tolerating chatty answers.

    In order: the whole answer is a label word; the answer starts with one and never names the other; a `Antwort: X` /
    `"label": "X"` pattern names one (the last such); exactly one of the two words appears in capitals.
    Anything else (both or neither named, an empty reply, a reply that is not a string) is None:
    recorded invalid, never guessed.
    """
    if not isinstance(answer, str) or not answer:
        return None
    words = {positive.lower(): 1, negative.lower(): 0}
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    s = answer.strip().strip(_STRIP).lower()
    if s in words:
        return words[s]
    m = re.match(rf"({alt})(?![\w])", s)
    if m:
        other = next(w for w in words if w != m.group(1))
        if not re.search(rf"(?<![\w]){re.escape(other)}(?![\w])", s):
            return words[m.group(1)]
    keyed = re.findall(rf"(?:antwort|answer|label|ergebnis|entscheidung|klassifikation)(?:\s+(?:ist|lautet|wäre|is))?\W{{0,6}}({alt})(?![\w])", s)
    if keyed:
        return words[keyed[-1]]
    caps = {w for w in (positive, negative) if re.search(rf"(?<![\w]){re.escape(w.upper())}(?![\w])", answer)}
    if len(caps) == 1:
        return words[caps.pop().lower()]
    return None
