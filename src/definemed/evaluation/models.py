"""The model variants stage 06 compares (docs/CONTRACTS.md).

For each small foundation <name>: the instruct base `zoo/<name>/` (label `<name>`), the CPT model
`04_cpt/models/<name>/` (`<name>-cpt`) and the SLERP merge `05_merge/models/<name>/` (`<name>-slerp`);
and the reference model `zoo/<refname>/` (role reference) that the win-rates compare against.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from definemed import artifacts
from definemed.config import Config
from definemed.errors import DefinemedError

KINDS = ("base", "cpt", "slerp", "reference")


@dataclass(frozen=True)
class Variant:
    label: str
    family: str
    kind: str
    path: Path


def variants(cfg: Config) -> list[Variant]:
    """All variants in table order: base, cpt, slerp per small family, then the reference."""
    small = [m for m in cfg.models.foundations if m.role == "small"]
    refs = [m for m in cfg.models.foundations if m.role == "reference"]
    if not small:
        raise DefinemedError("models.foundations: no model with role 'small'")
    if len(refs) != 1:
        raise DefinemedError(f"models.foundations: need exactly one model with role 'reference', found {len(refs)}")
    out = []
    for m in small:
        out += [Variant(m.name, m.name, "base", artifacts.foundation_model(cfg, m.name)),
                Variant(f"{m.name}-cpt", m.name, "cpt", artifacts.cpt_model(cfg, m.name)),
                Variant(f"{m.name}-slerp", m.name, "slerp", artifacts.merged_model(cfg, m.name))]
    out.append(Variant(refs[0].name, refs[0].name, "reference", artifacts.foundation_model(cfg, refs[0].name)))
    return out


def reference(vs: list[Variant]) -> Variant:
    return next(v for v in vs if v.kind == "reference")


def check_folders(vs: list[Variant]) -> None:
    """Every variant's folder exists (the stages before 06 ran); else one clear error naming them."""
    missing = [f"{v.label} ({v.path})" for v in vs if not (v.path / "config.json").is_file()]
    if missing:
        raise DefinemedError("model folders missing (run zoo, 04_cpt and 05_merge first): " + ", ".join(missing))
