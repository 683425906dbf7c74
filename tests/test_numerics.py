"""definemed.numerics against scikit-learn, its zero-division rule, and its seeded bootstrap."""
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, fbeta_score, precision_score, recall_score

from definemed import numerics
from definemed.errors import DefinemedError


@pytest.mark.parametrize("seed", range(5))
def test_rates_match_sklearn(seed):
    g = np.random.default_rng(seed)
    y, p = g.integers(0, 2, 200), g.integers(0, 2, 200)
    r = numerics.rates(*numerics.confusion(y, p), beta=0.7)
    assert r["precision"] == pytest.approx(precision_score(y, p))
    assert r["recall"] == pytest.approx(recall_score(y, p))
    assert r["f1"] == pytest.approx(f1_score(y, p))
    assert r["fbeta"] == pytest.approx(fbeta_score(y, p, beta=0.7))
    assert r["kappa"] == pytest.approx(cohen_kappa_score(y, p))


def test_one_zero_division_rule():
    r = numerics.rates(0, 0, 3, 5)  # nothing predicted positive
    assert r["precision"] == 0.0 and r["recall"] == 0.0 and r["f1"] == 0.0 and r["fbeta"] == 0.0
    assert numerics.rates(0, 0, 0, 4)["kappa"] == 1.0  # both raters constant and equal
    arr = numerics.rates(np.array([0, 2]), np.array([0, 1]), np.array([1, 0]))
    assert arr["precision"].tolist() == [0.0, 2 / 3]
    with pytest.raises(DefinemedError, match="beta"):
        numerics.rates(1, 1, 1, beta=0)


def test_bootstrap_is_seeded_per_stream_and_covers_the_mean():
    v = np.random.default_rng(0).random(300)
    a = numerics.mean_ci(v, 500, 7, "x")
    assert a == numerics.mean_ci(v, 500, 7, "x") != numerics.mean_ci(v, 500, 7, "y")
    assert a[0] < v.mean() < a[1]
    assert numerics.percentile_ci([np.nan, np.inf]) != numerics.percentile_ci([1.0])
    with pytest.raises(DefinemedError, match="no items"):
        numerics.bootstrap_indices(0, 10, 1)
