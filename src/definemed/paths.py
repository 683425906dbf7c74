"""Every path the project uses, derived from the repository root (nothing depends on the cwd).

Outputs of different profiles never mix: data/<profile>/..., figures/<profile>/..., build/<profile>/...
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
NOTEBOOKS = ROOT / "notebooks"
PROMPTS = ROOT / "prompts"
PAPER_REPORTED = ROOT / "data" / "paper_reported.yaml"


def _base(kind: str) -> Path:
    # DEFINEMED_OUTPUT_ROOT lets tests redirect every output to a temporary folder.
    override = os.environ.get("DEFINEMED_OUTPUT_ROOT")
    return (Path(override) if override else ROOT) / kind


def data_dir(profile: str) -> Path:
    return _base("data") / profile


def figures_dir(profile: str) -> Path:
    return _base("figures") / profile


def tables_dir(profile: str) -> Path:
    return figures_dir(profile) / "tables"


def build_dir(profile: str) -> Path:
    return _base("build") / profile


def manifests_dir(profile: str) -> Path:
    return data_dir(profile) / "manifests"


def stage_dir(profile: str, stage: str) -> Path:
    """Working folder of one stage, e.g. data/tiny/01_label."""
    return data_dir(profile) / stage


def config_file(profile_or_path: str | os.PathLike) -> Path:
    p = Path(profile_or_path)
    if p.suffix in (".yaml", ".yml"):
        return p if p.is_absolute() else (Path.cwd() / p)
    return CONFIGS / f"{profile_or_path}.yaml"
