"""Tiny random models for the stage-06 tests, built once per session in a temp folder."""
from __future__ import annotations

import pytest

from definemed.corpus.factbank import FactBank


def _texts() -> list[str]:
    bank = FactBank(7, 8, 8)
    return [f.sentence(k) for f in bank.facts for k in range(2)] + [
        "Frage: Welches Organ ist betroffen?\nAntwort: die Leber", "A. B. C. D. Answer:"]


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    # two OpenMP threads on two shared, busy cores were measured 25-40x slower than one
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from tests import factories as standin

    return standin.chat_tokenizer(_texts(), vocab_size=400)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    from tests import factories as standin

    return standin.build_model(tmp_path_factory.mktemp("models") / "llama", None, "llama", hidden=32, layers=1,
                               tokenizer=tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from definemed.evaluation.harness import load_model

    return load_model(tiny_model_dir)
