"""The profile's schedule: the YAML built from cfg.merge, and the per-layer t it gives."""
import pytest

from definemed.config import load_config
from definemed.merging import plan_merge
from definemed.merging.schedule import layer_schedule, slerp_config
from definemed.merging.spec import load_spec


def test_paper_schedule_in_the_paper_profile():
    m = load_config("paper").merge
    assert m.self_attn_t == [0, 0.5, 0.3, 0.7, 1] and m.mlp_t == [1, 0.5, 0.7, 0.3, 0] and m.default_t == 0.5
    s = layer_schedule(m, 9)  # 9 layers: positions k/8 land on the anchors at 0, 2, 4, 6, 8
    assert list(s["self_attn"][::2]) == [0, 0.5, 0.3, 0.7, 1] and list(s["mlp"][::2]) == [1, 0.5, 0.7, 0.3, 0]
    assert s["self_attn"][1] == pytest.approx(0.25)


def test_tiny_profile_merges_at_one_global_t():
    # 4 layers: the paper's template would put whole components of layers 0 and 3 at t = 0 / 1
    # (docs/merging.md), so the tiny profile uses one t for every tensor
    m = load_config("tiny").merge
    assert m.self_attn_t == [0.5] and m.mlp_t == [0.5] and m.default_t == 0.5
    s = layer_schedule(m, 4)
    assert list(s["self_attn"]) == list(s["mlp"]) == [0.5] * 4


def test_built_yaml_is_accepted_and_matches_the_schedule(llama_pair):
    base, other = llama_pair
    m = load_config("tiny").merge
    spec = load_spec(slerp_config(m, base, other))
    assert spec.base_model == base.resolve() and spec.other_model == other.resolve()
    t = {j.out: j.t for j in plan_merge(spec).jobs}
    s = layer_schedule(m, 4)
    for i in range(4):
        assert t[f"model.layers.{i}.self_attn.o_proj.weight"] == s["self_attn"][i]
        assert t[f"model.layers.{i}.mlp.down_proj.weight"] == s["mlp"][i]
        assert t[f"model.layers.{i}.post_attention_layernorm.weight"] == 0.5
    glob = plan_merge(load_spec(slerp_config(m, base, other, t=0.25))).jobs
    assert {j.t for j in glob} == {0.25}
