"""The one interface every annotator backend implements.

`annotate(docs, emit)` labels documents (already truncated to the budget, never empty) and calls
`emit(record)` once per document as soon as its label is known, so the caller can write it to disk
at once. It returns the documents that got no answer at all (server failures after every retry);
those are not emitted, so a rerun tries them again.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

from definemed.labeling.prompt import Prompt
from definemed.labeling.store import Record


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    notes: tuple[str, ...] = ()


@dataclass
class Failure:
    doc: Doc
    error: str
    attempts: int


@dataclass
class AnnotateResult:
    failed: list[Failure] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


Emit = Callable[[Record], None]


class Annotator(ABC):
    """A labelling backend: name, whether it yields probabilities, and `annotate`."""

    name: str = "base"
    has_prob: bool = False
    is_stand_in: bool = False

    def __init__(self, prompt: Prompt, positive: str, negative: str):
        self.prompt, self.positive, self.negative = prompt, positive, negative

    @abstractmethod
    def annotate(self, docs: list[Doc], emit: Emit) -> AnnotateResult:
        """Label `docs`, calling `emit` once per labelled document."""

    def describe(self) -> str:
        """One sentence for logs and notebooks: what labelled the documents."""
        return self.name

    def short_name(self) -> str:
        """A few words for table cells and figure titles."""
        return self.name
