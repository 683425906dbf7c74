"""The same YAML gives the same weights as mergekit 0.1.5 (its Python API, run in this process)."""
import pytest
import torch

from definemed.merging import merge

from .conftest import PAPER_T, slices_cfg
from .test_merge import tensors


def run_mergekit(cfg: dict, out) -> None:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    run_merge(MergeConfiguration.model_validate(cfg), str(out),
              MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False))


def configs(base, other):
    two_slices = {"merge_method": "slerp", "base_model": str(base), "parameters": {"t": 0.5},
                  "slices": [{"sources": [{"model": str(base), "layer_range": [0, 2]},
                                          {"model": str(other), "layer_range": [0, 2]}],
                              "parameters": {"t": [{"filter": "self_attn", "value": [0.2, 0.8]}]}},
                             {"sources": [{"model": str(other), "layer_range": [2, 4]},
                                          {"model": str(base), "layer_range": [2, 4]}],
                              "parameters": {"t": [0.9, 0.1]}}]}
    return {
        "paper_gradient": slices_cfg(base, other, PAPER_T),
        "scalar_models_form": {"merge_method": "slerp", "base_model": str(base),
                               "models": [{"model": str(base)}, {"model": str(other)}], "parameters": {"t": 0.37}},
        "two_slices": two_slices,
        "dtype_and_out_dtype": slices_cfg(base, other, [0.25, 0.75], dtype="float32", out_dtype="bfloat16"),
    }


@pytest.mark.parametrize("pair", ["llama_pair", "qwen_pair"])
def test_same_weights_as_mergekit(request, tmp_path, pair):
    base, other = request.getfixturevalue(pair)
    for name, cfg in configs(base, other).items():
        merge(cfg, tmp_path / f"ours-{name}", progress=False)
        run_mergekit(cfg, tmp_path / f"mk-{name}")
        ours, ref = tensors(tmp_path / f"ours-{name}"), tensors(tmp_path / f"mk-{name}")
        assert ours.keys() == ref.keys(), name
        for k in ref:
            assert ours[k].dtype == ref[k].dtype, (name, k)
            # same arithmetic in the same order: equal up to reduction-order rounding (in practice bit-equal)
            torch.testing.assert_close(ours[k], ref[k], rtol=1e-6, atol=1e-7, msg=f"{name}: {k}")
