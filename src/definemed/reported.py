"""The paper's reported numbers (data/paper_reported.yaml), shown beside every reproduced value."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from definemed import paths
from definemed.errors import DefinemedError


@lru_cache(maxsize=1)
def _load() -> dict:
    return yaml.safe_load(paths.PAPER_REPORTED.read_text(encoding="utf-8"))


def paper_value(key: str) -> Any:
    """The reported value under a dotted key, e.g. paper_value('label.f1') -> {'value': 91.1, 'pm': 2.5, ...}."""
    node: Any = _load()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DefinemedError(f"{paths.PAPER_REPORTED}: no reported value under key '{key}'")
        node = node[part]
    return node


def paper_text(key: str) -> str:
    """The reported value as table text: '91.1 ± 2.5', '0.95', or the note if there is no number."""
    v = paper_value(key)
    if not isinstance(v, dict):
        return str(v)
    if v.get("value") is None:
        return v.get("note", "not reported")
    s = _human(v["value"]) if isinstance(v["value"], (int, float)) else str(v["value"])
    if v.get("pm") is not None:
        s += f" ± {v['pm']:g}"
    return s


def _human(x: float) -> str:
    """427700000 -> '427.7M', 0.95 -> '0.95'."""
    for div, suffix in ((1e9, "B"), (1e6, "M")):
        if abs(x) >= div:
            return f"{x / div:.4g}{suffix}"
    return f"{x:g}"


def paper_direction(mode: str, family: str) -> str | None:
    """The change from base to adapted (SLERP) model the paper reports: 'up', 'down' or None."""
    fam = "mistral" if family.startswith("mistral-7b") else "qwen" if family.startswith("qwen2.5-7b") else None
    if mode == "language_mixing":
        return "up" if fam == "mistral" else None  # 12 -> 207 of 216
    if mode == "typos":
        return {"mistral": "up", "qwen": "down"}.get(fam)  # 85 -> 125, 118 -> 41
    if mode == "verbosity":
        return "up"
    if mode in ("hallucination", "overconfidence", "contradiction"):
        return "down"
    return None
