"""Tiny random model pairs (built once per test session in a temp dir) and a YAML writer."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from tests.factories import model_config, write_random_model, write_tokenizer

TEXTS = ["Der Patient erhielt Ibuprofen gegen die Schmerzen.", "Das Wetter in Berlin ist heute sonnig."] * 20


def make_pair(root: Path, arch: str, dtype: torch.dtype, **kw) -> tuple[Path, Path]:
    cfg = model_config(arch, **kw)
    a = write_random_model(root / "base", cfg, dtype=dtype, seed=1)
    b = write_random_model(root / "other", cfg, dtype=dtype, seed=2, related=a, noise=0.3)
    write_tokenizer(a, TEXTS, vocab_size=cfg.vocab_size)
    return a, b


@pytest.fixture(scope="session")
def llama_pair(tmp_path_factory):
    """Llama, float32, untied embeddings, 4 layers."""
    return make_pair(tmp_path_factory.mktemp("llama"), "llama", torch.float32, num_hidden_layers=4)


@pytest.fixture(scope="session")
def qwen_pair(tmp_path_factory):
    """Qwen2 (attention biases), bfloat16, tied embeddings, 4 layers."""
    return make_pair(tmp_path_factory.mktemp("qwen"), "qwen2", torch.bfloat16, num_hidden_layers=4,
                     tie_word_embeddings=True)


def write_yaml(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def slices_cfg(base: Path, other: Path, t, n: int = 4, **extra) -> dict:
    cfg = {"merge_method": "slerp", "base_model": str(base),
           "slices": [{"sources": [{"model": str(base), "layer_range": [0, n]},
                                   {"model": str(other), "layer_range": [0, n]}]}],
           "parameters": {"t": t}}
    cfg.update(extra)
    return cfg


PAPER_T = [{"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]},
           {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]}, {"value": 0.5}]
