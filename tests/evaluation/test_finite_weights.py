"""Evaluation refuses a model folder with non-finite weights, naming the folder and the tensor."""
from __future__ import annotations

import pytest
from safetensors.torch import load_file

from definemed.errors import DefinemedError
from definemed.finite import check_folder_finite
from tests.test_finite import poison


def test_evaluation_refuses_non_finite_weights(tiny_model_dir, tmp_path):
    from definemed.evaluation.harness import load_model

    sd = load_file(next(tiny_model_dir.glob("*.safetensors")))
    name = next(k for k in sd if k.endswith("mlp.down_proj.weight"))
    bad = poison(tiny_model_dir, tmp_path / "bad", name, float("nan"))
    with pytest.raises(DefinemedError, match=rf"{bad}: tensor {name} has non-finite values") as e:
        load_model(bad)
    assert "\n" not in str(e.value)
    with pytest.raises(DefinemedError, match=rf"tensor {name} has non-finite"):
        check_folder_finite(bad)
    assert check_folder_finite(tiny_model_dir) == len(sd)
