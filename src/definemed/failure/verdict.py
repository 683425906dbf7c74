"""The result every detector returns for one answer: a verdict, the evidence and a status."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ok: the detector ran; empty: nothing to judge (empty answer); error / timeout: the detector could
# not decide (an LLM judge that failed or timed out); not_sentence: typos and language mixing are
# judged only on answers that are sentences (a fragment has no spelling or language to judge).
# Only status "ok" can carry flag=True.
STATUSES = ("ok", "empty", "error", "timeout", "not_sentence")


@dataclass
class Verdict:
    flag: bool
    """True when the answer shows the failure."""
    evidence: list[str] = field(default_factory=list)
    """The offending sentences, spans, words or claims (human-readable)."""
    status: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)
    """Measured quantities (word counts, confidences, ...)."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status: {self.status!r} is not one of {STATUSES}")
        if self.flag and self.status != "ok":
            raise ValueError("verdict: only an 'ok' verdict can flag a failure")
