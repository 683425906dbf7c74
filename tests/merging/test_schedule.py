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


def test_tiny_profile_merges_with_the_papers_template_on_8_layers():
    # the claims use the paper's layer-wise, component-specific schedule; global t is the sweep beside it
    tiny, paper = load_config("tiny").merge, load_config("paper").merge
    assert (tiny.self_attn_t, tiny.mlp_t, tiny.default_t) == (paper.self_attn_t, paper.mlp_t, paper.default_t)
    assert load_config("tiny").zoo.small.num_layers >= 8
    s = layer_schedule(tiny, 8)
    assert s["self_attn"].iloc[0] == 0.0 and s["self_attn"].iloc[-1] == 1.0
    assert s["mlp"].iloc[0] == 1.0 and s["mlp"].iloc[-1] == 0.0 and len(set(s["self_attn"])) > 2


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
