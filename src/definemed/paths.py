"""Every path the project uses, derived from the repository root (nothing depends on the cwd).

Outputs of different profiles never mix: data/<profile>/..., figures/<profile>/..., build/<profile>/...
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
NOTEBOOKS = ROOT / "notebooks"
PROMPTS = ROOT / "prompts"
PAPER_REPORTED = ROOT / "data" / "paper_reported.yaml"


PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A profile name is one folder name under data/, figures/ and build/: no separators, no '..'."""


def check_profile(profile: str) -> str:
    """The profile name if it is safe as a folder name, else DefinemedError naming it."""
    from definemed.errors import DefinemedError

    if not isinstance(profile, str) or not PROFILE_NAME.fullmatch(profile) or ".." in profile:
        raise DefinemedError(f"profile name {profile!r}: use 1-64 letters, digits, '.', '_' or '-' "
                             "(it names the folders data/<profile>, figures/<profile>, build/<profile>)")
    return profile


def inside_root(value: str, key: str) -> str:
    """A path from the config: a relative one must stay inside the repository (absolute paths and
    URLs say explicitly that they point elsewhere); DefinemedError naming the key otherwise."""
    from definemed.errors import DefinemedError

    if "://" in value or Path(value).is_absolute():
        return value
    if not (ROOT / value).resolve().is_relative_to(ROOT.resolve()):
        raise DefinemedError(f"{key}: relative path '{value}' leaves the repository; write an absolute path "
                             "to use a folder elsewhere")
    return value


def _base(kind: str) -> Path:
    # DEFINEMED_OUTPUT_ROOT lets tests redirect every output to a temporary folder.
    override = os.environ.get("DEFINEMED_OUTPUT_ROOT")
    return (Path(override) if override else ROOT) / kind


def data_dir(profile: str) -> Path:
    return _base("data") / check_profile(profile)


def figures_dir(profile: str) -> Path:
    return _base("figures") / check_profile(profile)


def tables_dir(profile: str) -> Path:
    return figures_dir(profile) / "tables"


def build_dir(profile: str) -> Path:
    return _base("build") / check_profile(profile)


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
