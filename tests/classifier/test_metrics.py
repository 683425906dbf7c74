"""The pure metric functions against scikit-learn on random cases."""
import numpy as np
import pytest
from sklearn.metrics import fbeta_score, precision_score, recall_score

from definemed.classifier.metrics import at_threshold, bootstrap_ci, check_threshold, fbeta, precision_recall, threshold_sweep
from definemed.errors import DefinemedError


@pytest.mark.parametrize("case", range(200))
def test_fbeta_matches_sklearn_on_random_cases(case):
    g = np.random.default_rng(case)
    n = int(g.integers(1, 60))
    y = g.integers(0, 2, n)
    pred = g.integers(0, 2, n) if case % 7 else np.zeros(n, dtype=int)  # include the all-negative edge case
    beta = float(g.choice([0.3, 0.7, 1.0, 2.0, g.uniform(0.05, 5)]))
    ours = fbeta(y, pred, beta)
    ref = fbeta_score(y, pred, beta=beta, zero_division=0)
    assert ours == pytest.approx(ref, abs=1e-12)
    p, r = precision_recall(y, pred)
    assert p == pytest.approx(precision_score(y, pred, zero_division=0))
    assert r == pytest.approx(recall_score(y, pred, zero_division=0))


def test_at_threshold_uses_greater_or_equal():
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.89, 0.95, 0.1], dtype=np.float32)
    m = at_threshold(y, s, np.float32(0.9), 0.7)
    assert m["n_predicted"] == 2 and m["precision"] == 0.5 and m["recall"] == 0.5


def test_sweep_is_monotone_in_predictions():
    g = np.random.default_rng(0)
    y, s = g.integers(0, 2, 300), g.random(300)
    sw = threshold_sweep(y, s, 0.7)
    assert (np.diff(sw["n_predicted"]) <= 0).all()
    assert sw["fbeta"].between(0, 1).all()


def test_bootstrap_interval_contains_point_and_is_seeded():
    g = np.random.default_rng(1)
    y = g.integers(0, 2, 400)
    s = np.clip(y * 0.6 + g.random(400) * 0.5, 0, 1)
    a = bootstrap_ci(y, s, 0.9, 0.7, n_boot=300, seed=3)
    b = bootstrap_ci(y, s, 0.9, 0.7, n_boot=300, seed=3)
    assert a == b
    for q in ("precision", "recall", "fbeta"):
        assert a[f"{q}_lo"] <= a[q] <= a[f"{q}_hi"]


@pytest.mark.parametrize("t", [0, 1, -0.1, 1.5, float("nan")])
def test_threshold_outside_unit_interval_is_an_error(t):
    with pytest.raises(DefinemedError, match="between 0 and 1"):
        check_threshold(t)
    with pytest.raises(DefinemedError):
        at_threshold([1, 0], [0.5, 0.5], t, 0.7)


def test_fbeta_rejects_bad_beta_and_shapes():
    with pytest.raises(DefinemedError):
        fbeta([1, 0], [1, 0], 0)
    with pytest.raises(DefinemedError):
        fbeta([1, 0], [1, 0, 1], 1)


def test_encoder_flops_match_twice_the_layer_parameters():
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from definemed.classifier.cost import config_flops_per_doc

    cfg = XLMRobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    layer_params = sum(p.numel() for n, p in XLMRobertaModel(cfg).named_parameters()
                       if n.startswith("encoder.") and n.endswith("weight") and p.dim() == 2)
    t = 10  # short: the attention term (4 T^2 d per layer) is small against 2 * params * T
    flops = config_flops_per_doc(cfg, t)
    attention = 2 * 4 * t * t * 32
    head = 2 * (32 * 32 + 64)
    assert flops - attention - head == 2 * layer_params * t
