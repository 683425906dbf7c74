"""Weight cosine per tensor group, on hand-made tensors and on two saved model folders."""
from __future__ import annotations

import pytest
import torch

from definemed.errors import DefinemedError
from definemed.evaluation import weights as W


def test_tensor_groups():
    assert W.tensor_group("model.embed_tokens.weight") == "embeddings"
    assert W.tensor_group("lm_head.weight") == "embeddings"
    assert W.tensor_group("model.layers.0.self_attn.q_proj.weight") == "attention"
    assert W.tensor_group("model.layers.1.mlp.down_proj.weight") == "mlp"
    assert W.tensor_group("model.layers.1.input_layernorm.weight") == "norms"
    assert W.tensor_group("model.norm.weight") == "norms"
    assert W.tensor_group("model.rotary.inv_freq") == "other"


def test_cosine_per_group_is_the_mean_over_its_tensors():
    g = torch.Generator().manual_seed(0)
    base = {"embed_tokens.weight": torch.randn(8, 4, generator=g), "layers.0.self_attn.q.weight": torch.randn(4, 4, generator=g),
            "layers.0.self_attn.k.weight": torch.randn(4, 4, generator=g), "layers.0.mlp.up.weight": torch.randn(6, 4, generator=g),
            "norm.weight": torch.ones(4)}
    other = {k: v.clone() for k, v in base.items()}
    other["layers.0.self_attn.k.weight"] = -base["layers.0.self_attn.k.weight"]  # cosine -1
    other["layers.0.mlp.up.weight"] = 3.0 * base["layers.0.mlp.up.weight"]     # scale does not matter
    out = W.group_cosines(base, other)
    assert out["embeddings"]["mean"] == pytest.approx(1.0) and out["mlp"]["mean"] == pytest.approx(1.0)
    assert out["attention"]["mean"] == pytest.approx(0.0) and out["attention"]["min"] == pytest.approx(-1.0)
    assert out["attention"]["n_tensors"] == 2 and out["norms"]["mean"] == pytest.approx(1.0)
    assert "other" not in out
    # a small update stays near 1, an unrelated tensor near 0
    x = torch.randn(4096, generator=g)
    assert W.cosine(x, x + 0.01 * torch.randn(4096, generator=g)) > 0.999
    assert abs(W.cosine(x, torch.randn(4096, generator=g))) < 0.1
    assert W.cosine(torch.zeros(3), torch.zeros(3)) == 1.0 and W.cosine(torch.zeros(3), torch.ones(3)) == 0.0


def test_errors_name_the_tensor():
    with pytest.raises(DefinemedError, match="share no tensor"):
        W.group_cosines({"a": torch.ones(2)}, {"b": torch.ones(2)})
    with pytest.raises(DefinemedError, match="mlp.w has shape"):
        W.group_cosines({"mlp.w": torch.ones(2)}, {"mlp.w": torch.ones(3)})


def test_folder_cosines_equal_the_in_memory_ones(tmp_path):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(1)
    a = {"model.embed_tokens.weight": torch.randn(5, 3, generator=g), "model.layers.0.mlp.w.weight": torch.randn(3, 3, generator=g)}
    b = {k: v + 0.5 * torch.randn(v.shape, generator=g) for k, v in a.items()}
    for name, t in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        save_file(t, str(tmp_path / name / "model.safetensors"))
    assert W.folder_cosines(tmp_path / "a", tmp_path / "b") == W.group_cosines(a, b)
    with pytest.raises(DefinemedError, match="no .safetensors"):
        W.folder_cosines(tmp_path, tmp_path / "b")
