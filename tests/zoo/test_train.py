import json

import numpy as np
import pytest

from definemed import paths
from definemed.zoo.train import IGNORE, PackedBatches, cosine_lr, pack_examples
from tests.zoo.helpers import GOLDEN, golden_run


def test_short_run_matches_the_golden_loss_curve():
    golden = json.loads((paths.ROOT / "tests" / "assets" / GOLDEN).read_text())["losses"]
    losses = golden_run(len(golden))
    # same machine: identical; other CPUs may reorder float reductions, hence the tolerance
    np.testing.assert_allclose(losses, golden, rtol=2e-3, atol=2e-3)
    assert losses[-1] < losses[0] - 0.5  # and it learns


def test_training_is_deterministic():
    assert golden_run(4) == golden_run(4)


def test_cosine_schedule():
    lrs = [cosine_lr(s, 100, 1.0, 10, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert max(lrs) == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_packing_never_splits_an_example_and_masks_the_prompt():
    ex = [([1, 2, 3, 4], [False, False, True, True]), ([5, 6, 7], [False, True, True]), ([8, 9], [False, True])]
    ids, labels = pack_examples(ex, seq_len=6, pad_id=0)
    assert ids.tolist() == [[1, 2, 3, 4, 0, 0], [5, 6, 7, 8, 9, 0]]
    assert labels.tolist() == [[IGNORE, IGNORE, 3, 4, IGNORE, IGNORE], [IGNORE, 6, 7, IGNORE, 9, IGNORE]]
    b = PackedBatches(ids, labels, batch_size=3, rng=np.random.default_rng(0))
    x, y = b(0)
    assert x.shape == (3, 6) and b.epochs == 2
