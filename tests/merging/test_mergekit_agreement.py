"""The same YAML gives the same weights as mergekit 0.1.5 (its Python API, run in this process)."""
import json

import pytest
import torch
from safetensors.torch import load_file

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
        # forms mergekit accepts that this merge once refused (issue 18)
        "string_numbers": slices_cfg(base, other, [{"filter": "self_attn", "value": ["5e-1", "1e-1"]},
                                                   {"value": "2.5e-1"}]),
        "extrapolated_t": slices_cfg(base, other, [{"filter": "mlp", "value": [-0.25, 1.25]}, {"value": 0.5}]),
        "filter_weight_and_lm_head": slices_cfg(base, other, [{"filter": "lm_head", "value": 0.2},
                                                              {"filter": "weight", "value": 0.3}, {"value": 0.6}]),
        "torch_dtype_name": slices_cfg(base, other, 0.5, dtype="torch.float32"),
        "per_slice_base_model": {"merge_method": "slerp", "parameters": {"t": 0.7},
                                 "slices": [{"base_model": str(base), "sources": [
                                     {"model": str(other), "layer_range": [0, 4]},
                                     {"model": str(base), "layer_range": [0, 4]}]}]},
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


@pytest.mark.parametrize("base_tied", [True, False])
def test_tied_and_untied_heads_as_mergekit(tmp_path, base_tied):
    """A tied model has no lm_head.weight: mergekit then takes its input embeddings as the head and
    merges them with the other model's separate head (its architectures mark lm_head optional, tied to
    embed_tokens). The merged head is written and the output config unties it."""
    import json

    from tests.factories import model_config, write_random_model

    tied = write_random_model(tmp_path / "tied", model_config("qwen2", num_hidden_layers=2, tie_word_embeddings=True),
                              dtype=torch.float32, seed=1)
    untied = write_random_model(tmp_path / "untied", model_config("qwen2", num_hidden_layers=2,
                                                                  tie_word_embeddings=False), dtype=torch.float32, seed=2)
    base, other = (tied, untied) if base_tied else (untied, tied)
    cfg = slices_cfg(base, other, [{"filter": "lm_head", "value": 0.3}, {"value": 0.6}], n=2)
    merge(cfg, tmp_path / "ours", progress=False)
    run_mergekit(cfg, tmp_path / "mk")
    ours, ref = tensors(tmp_path / "ours"), tensors(tmp_path / "mk")
    assert ours.keys() == ref.keys() and "lm_head.weight" in ours
    for k in ref:
        torch.testing.assert_close(ours[k], ref[k], rtol=1e-6, atol=1e-7, msg=k)
    assert not torch.equal(ours["lm_head.weight"], ours["model.embed_tokens.weight"])
    assert json.loads((tmp_path / "ours" / "config.json").read_text())["tie_word_embeddings"] is False


def _swapped_slices(base, other, t=(0.2, 0.8)) -> dict:
    """Two slices over the same two models; the second names `other` as its own base_model (roles swapped)."""
    return {"merge_method": "slerp", "base_model": str(base), "parameters": {"t": list(t)},
            "slices": [{"sources": [{"model": str(base), "layer_range": [0, 2]},
                                    {"model": str(other), "layer_range": [0, 2]}]},
                       {"base_model": str(other),
                        "sources": [{"model": str(base), "layer_range": [2, 4]},
                                    {"model": str(other), "layer_range": [2, 4]}],
                        "parameters": {"t": [0.1, 0.35]}}]}


def _bits(x: torch.Tensor) -> torch.Tensor:
    return x.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()])


@pytest.mark.parametrize("pair", ["llama_pair", "qwen_pair"])
def test_per_slice_base_model_swaps_roles_as_mergekit(request, tmp_path, pair):
    """A slice with its own base_model (the same two models, roles swapped) is accepted, and gives
    mergekit's weights: t = 0 is the other model inside that slice."""
    from definemed.merging.spec import load_spec

    base, other = request.getfixturevalue(pair)
    cfg = _swapped_slices(base, other)
    spec = load_spec(cfg)
    assert spec.base_model == base.resolve() and [s.base.model for s in spec.slices] == [base.resolve(),
                                                                                        other.resolve()]
    assert load_spec(spec.to_mergekit()) == spec  # the normalised config keeps the swap
    merge(cfg, tmp_path / "ours", progress=False)
    run_mergekit(cfg, tmp_path / "mk")
    ours, ref = tensors(tmp_path / "ours"), tensors(tmp_path / "mk")
    assert ours.keys() == ref.keys()
    for k in ref:
        torch.testing.assert_close(ours[k], ref[k], rtol=1e-6, atol=1e-7, msg=k)
    # the swap matters: with both slices based on `base` the second slice's layers differ
    unswapped = json.loads(json.dumps(cfg))
    del unswapped["slices"][1]["base_model"]
    merge(unswapped, tmp_path / "plain", progress=False)
    plain = tensors(tmp_path / "plain")
    assert not torch.equal(plain["model.layers.3.mlp.up_proj.weight"], ours["model.layers.3.mlp.up_proj.weight"])
    assert torch.equal(plain["model.layers.0.mlp.up_proj.weight"], ours["model.layers.0.mlp.up_proj.weight"])


def test_per_slice_base_model_must_be_one_of_the_two(llama_pair, tmp_path):
    from definemed.errors import DefinemedError
    from definemed.merging.spec import load_spec

    base, other = llama_pair
    cfg = _swapped_slices(base, other)
    third = tmp_path / "third"
    third.mkdir()
    cfg["slices"][1]["base_model"] = str(third)
    with pytest.raises(DefinemedError, match="slices.1.sources': exactly one source must be the base"):
        load_spec(cfg)


def _with_signed_zeros(src, dst, seed):
    """A copy of model `src` with about a third of each tensor's elements set to -0.0 and a third to +0.0."""
    import shutil

    from safetensors.torch import save_file

    shutil.copytree(src, dst)
    g = torch.Generator().manual_seed(seed)
    for f in sorted(dst.glob("*.safetensors")):
        ts = load_file(f)
        for k, v in ts.items():
            u = torch.rand(v.shape, generator=g)
            v = torch.where(u < 0.33, torch.tensor(-0.0, dtype=v.dtype), v)
            ts[k] = torch.where(u > 0.67, torch.tensor(0.0, dtype=v.dtype), v).contiguous()
        save_file(ts, f, metadata={"format": "pt"})
    return dst


@pytest.mark.parametrize("pair", ["llama_pair", "qwen_pair"])
def test_t_zero_and_one_bit_identical_with_signed_zeros(request, tmp_path, pair):
    """Where t is exactly 0 or 1 mergekit computes 1·x + 0·y, which turns an endpoint's -0.0 into +0.0
    unless the other input is negative too: the output has mergekit's bits, not just equal values."""
    base, other = request.getfixturevalue(pair)
    zb = _with_signed_zeros(base, tmp_path / "zb", 1)
    zo = _with_signed_zeros(other, tmp_path / "zo", 2)
    cfg = slices_cfg(zb, zo, [{"filter": "self_attn", "value": [0, 1]}, {"filter": "mlp", "value": [1, 0]},
                              {"value": 0.0}], n=3)
    cfg["slices"].append({"base_model": str(zo), "sources": [{"model": str(zo), "layer_range": [3, 4]},
                                                             {"model": str(zb), "layer_range": [3, 4]}],
                          "parameters": {"t": 1.0}})
    merge(cfg, tmp_path / "ours", progress=False)
    run_mergekit(cfg, tmp_path / "mk")
    ours, ref = tensors(tmp_path / "ours"), tensors(tmp_path / "mk")
    assert ours.keys() == ref.keys()
    inputs = tensors(zb)
    for k in ref:
        assert torch.equal(_bits(ours[k]), _bits(ref[k])), k
    # the case is exercised: some -0.0 of the t = 0 endpoint became +0.0, some stayed -0.0
    w = "model.layers.0.self_attn.q_proj.weight"
    neg_in = torch.signbit(inputs[w]) & (inputs[w] == 0)
    assert (neg_in & ~torch.signbit(ours[w])).any() and (neg_in & torch.signbit(ours[w])).any()
