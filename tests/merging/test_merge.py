"""The streaming merge end to end: endpoints, the gradient schedule, dtypes, tied embeddings, outputs."""
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from definemed.merging import merge, plan_merge
from definemed.merging.spec import load_spec

from .conftest import PAPER_T, slices_cfg, write_yaml


def tensors(folder):
    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(f))
    return out


@pytest.mark.parametrize("pair", ["llama_pair", "qwen_pair"])
@pytest.mark.parametrize("t", [0.0, 1.0])
def test_endpoints_reproduce_the_inputs_exactly(request, tmp_path, pair, t):
    base, other = request.getfixturevalue(pair)
    merge(slices_cfg(base, other, t), tmp_path / "out", progress=False)
    got, want = tensors(tmp_path / "out"), tensors(base if t == 0 else other)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k


def test_gradient_schedule_gives_each_layer_its_interpolated_t(llama_pair):
    base, other = llama_pair
    plan = plan_merge(load_spec(slices_cfg(base, other, PAPER_T)))
    t = {j.out: j.t for j in plan.jobs}
    # 4 layers at positions 0, 1/3, 2/3, 1 over the anchors [0, .5, .3, .7, 1]
    attn = [0.0, 2 / 3 * 0.5 + 1 / 3 * 0.3, 1 / 3 * 0.3 + 2 / 3 * 0.7, 1.0]
    for i, want in enumerate(attn):
        assert t[f"model.layers.{i}.self_attn.q_proj.weight"] == pytest.approx(want, abs=1e-12)
        assert t[f"model.layers.{i}.mlp.up_proj.weight"] == pytest.approx(1 - want, abs=1e-12)  # mirror anchors
        assert t[f"model.layers.{i}.input_layernorm.weight"] == 0.5
    assert t["model.embed_tokens.weight"] == 0.5 and t["lm_head.weight"] == 0.5


def test_slice_parameters_win_and_single_layer_slices_take_the_last_anchor(llama_pair):
    base, other = llama_pair
    cfg = {"merge_method": "slerp", "base_model": str(base), "parameters": {"t": 0.5},
           "slices": [{"sources": [{"model": str(base), "layer_range": [0, 3]},
                                   {"model": str(other), "layer_range": [0, 3]}],
                       "parameters": {"t": [{"filter": "mlp", "value": [0.0, 1.0]}]}},
                      {"sources": [{"model": str(base), "layer_range": [3, 4]},
                                   {"model": str(other), "layer_range": [3, 4]}],
                       "parameters": {"t": [0.2, 0.9]}}]}
    t = {j.out: j.t for j in plan_merge(load_spec(cfg)).jobs}
    assert [t[f"model.layers.{i}.mlp.up_proj.weight"] for i in range(3)] == [0.0, 0.5, 1.0]
    assert t["model.layers.1.self_attn.q_proj.weight"] == 0.5  # no slice filter matched: global value
    assert t["model.layers.3.mlp.up_proj.weight"] == pytest.approx(0.9)  # one-layer slice: position 1
    assert t["model.embed_tokens.weight"] == 0.5 and t["lm_head.weight"] == pytest.approx(0.2)


def test_bf16_tied_merge_loads_and_keeps_files(qwen_pair, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, other = qwen_pair
    out = tmp_path / "merged"
    info = merge(slices_cfg(base, other, PAPER_T), out, progress=False, threads=2)
    assert info["slerp_tensors"] > 0
    got = tensors(out)
    assert "lm_head.weight" not in got and all(v.dtype == torch.bfloat16 for v in got.values())
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "README.md", "merge_config.yaml",
              "merge_report.json", "config.json"):
        assert (out / f).is_file(), f
    from huggingface_hub import ModelCard

    card = ModelCard.load(out / "README.md").data  # a Hugging Face card: parents relative to the merge
    assert card.language == "de" and card.license == "mit" and card.base_model_relation == "merge"
    assert [(out / b).resolve() for b in card.base_model] == [base.resolve(), other.resolve()]
    model = AutoModelForCausalLM.from_pretrained(out)
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.apply_chat_template([{"role": "user", "content": "Hallo"}], tokenize=False, add_generation_prompt=True)
    # the written merge config reproduces the merge
    merge(out / "merge_config.yaml", tmp_path / "again", progress=False)
    again = tensors(tmp_path / "again")
    assert all(torch.equal(again[k], got[k]) for k in got)
    report = json.loads((out / "merge_report.json").read_text())
    assert {r["name"] for r in report["tensors"]} == set(got)


def test_dtype_conversion_and_sharding(llama_pair, tmp_path):
    base, other = llama_pair
    out = tmp_path / "out"
    info = merge(slices_cfg(base, other, 0.3, dtype="bfloat16"), out, progress=False, max_shard_bytes=40_000)
    assert info["shards"] > 1
    index = json.loads((out / "model.safetensors.index.json").read_text())
    got = tensors(out)
    assert set(index["weight_map"]) == set(got) and all(v.dtype == torch.bfloat16 for v in got.values())
    for f in set(index["weight_map"].values()):
        with safe_open(str(out / f), "pt") as fh:
            assert fh.metadata()["format"] == "pt"
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"


def test_models_form_equals_slices_form(llama_pair, tmp_path):
    base, other = llama_pair
    merge({"merge_method": "slerp", "base_model": str(base), "models": [{"model": str(other)}],
           "parameters": {"t": [0.1, 0.7]}}, tmp_path / "a", progress=False)
    merge(slices_cfg(base, other, [0.1, 0.7]), tmp_path / "b", progress=False)
    a, b = tensors(tmp_path / "a"), tensors(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_layer_subset_rewrites_the_config(llama_pair, tmp_path):
    base, other = llama_pair
    cfg = slices_cfg(base, other, 0.5)
    cfg["slices"][0]["sources"] = [{"model": str(base), "layer_range": [1, 3]},
                                   {"model": str(other), "layer_range": [1, 3]}]
    merge(cfg, tmp_path / "out", progress=False)
    assert json.loads((tmp_path / "out" / "config.json").read_text())["num_hidden_layers"] == 2
    assert "model.layers.2.mlp.up_proj.weight" not in tensors(tmp_path / "out")


@pytest.mark.gpu
def test_cuda_merge_matches_cpu(qwen_pair, tmp_path):
    base, other = qwen_pair
    merge(slices_cfg(base, other, PAPER_T), tmp_path / "cpu", progress=False, device="cpu")
    merge(slices_cfg(base, other, PAPER_T), tmp_path / "gpu", progress=False, device="cuda")
    a, b = tensors(tmp_path / "cpu"), tensors(tmp_path / "gpu")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-2, atol=1e-3)


def test_no_cuda_device_is_an_error(llama_pair, tmp_path):
    from definemed.errors import DefinemedError

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(DefinemedError, match="no CUDA device"):
        merge(slices_cfg(*llama_pair, 0.5), tmp_path / "out", device="cuda", progress=False)
    assert not (tmp_path / "out").exists()
