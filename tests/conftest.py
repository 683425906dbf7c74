"""Shared fixtures: every test writes under a temporary output root, never into data/ or figures/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from definemed import paths

SMALL_CORPUS = {"n_docs": 600, "shard_size": 250, "expert_sample": 200, "n_drugs": 20, "n_diseases": 20}


@pytest.fixture
def out_root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DEFINEMED_OUTPUT_ROOT", str(tmp_path / "out"))
    return tmp_path / "out"


def write_config(path: Path, profile: str = "tiny", **sections) -> Path:
    """A copy of configs/<profile>.yaml with some section values replaced."""
    raw = yaml.safe_load((paths.CONFIGS / f"{profile}.yaml").read_text())
    raw["profile"] = "test"
    for section, values in sections.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def small_config(tmp_path, out_root) -> Path:
    return write_config(tmp_path / "small.yaml", corpus=SMALL_CORPUS)


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    yield


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_main(capsys, *args):
    """`python -m definemed ARGS` in this process: (returncode, stdout, stderr) like subprocess.run."""
    from types import SimpleNamespace

    from definemed.cli import main

    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def make_corpus(cfg) -> dict:
    """Stage 00 of a test profile through the stage contract; its counts."""
    from definemed import artifacts, stages

    return stages.run(cfg, artifacts.CORPUS)["counts"]
