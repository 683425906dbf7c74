"""definemed.seed: one seeding function and independent named streams."""
from __future__ import annotations

import numpy as np
import pytest

from definemed.seed import rng, set_seed, stream_key


def _draw(*stream, seed=1234):
    return rng(seed, *stream).integers(0, 1 << 30, size=16)


def test_names_sharing_a_prefix_are_different_streams():
    # the bootstrap streams of two models: the first 8 bytes agree ("quality-"), the streams must not
    a, b = _draw("bootstrap", "quality-mistral-7b-tiny"), _draw("bootstrap", "quality-qwen2.5-7b-tiny")
    assert not np.array_equal(a, b)
    assert not np.array_equal(_draw("cpt-general"), _draw("cpt-generalX"))
    assert not np.array_equal(_draw("ab"), _draw("ab\0"))  # no padding: a name is its whole text


def test_a_stream_is_reproducible_and_depends_on_seed_order_and_kind():
    assert np.array_equal(_draw("evaluate", "winrate"), _draw("evaluate", "winrate"))
    assert not np.array_equal(_draw("evaluate", "winrate"), _draw("winrate", "evaluate"))
    assert not np.array_equal(_draw("x", seed=1), _draw("x", seed=2))
    assert not np.array_equal(_draw(3), _draw("3"))  # the shard number 3 is not the name "3"


def test_many_names_give_distinct_streams():
    names = [f"quality-model-{i}-tiny" for i in range(200)]
    firsts = {tuple(_draw("bootstrap", n)[:4]) for n in names}
    assert len(firsts) == len(names)


def test_bad_stream_parts_are_refused():
    for bad in (-1, 1.5, True, None):
        with pytest.raises((TypeError, ValueError)):
            stream_key(bad)


def test_set_seed_repeats_python_numpy_and_torch_draws():
    import random

    import torch

    set_seed(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
