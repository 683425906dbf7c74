"""Bad input: a one-line error naming the model, tensor or key, exit code 1, and no partial output."""
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from definemed.cli import main
from tests.factories import model_config, write_random_model

from .conftest import slices_cfg, write_yaml


def run_cli(capsys, *args) -> str:
    with pytest.raises(SystemExit) as e:
        main(["merge", *map(str, args), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 1 and err.startswith("error: ") and "\n" not in err, err
    return err


def no_partial_output(parent) -> bool:
    return not any(p.name.startswith(".out") or p.name == "out" for p in parent.iterdir())


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_different_architecture(llama_pair, tmp_path, capsys):
    base, _ = llama_pair
    other = write_random_model(tmp_path / "qwen", model_config("qwen2", num_hidden_layers=4))
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, other, 0.5)), tmp_path / "out")
    assert str(other) in err and "architectures" in err
    assert no_partial_output(tmp_path)


def test_different_shape(llama_pair, tmp_path, capsys):
    base, _ = llama_pair
    other = write_random_model(tmp_path / "wide", model_config("llama", num_hidden_layers=4, intermediate_size=96))
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, other, 0.5)), tmp_path / "out")
    assert "intermediate_size" in err and str(other) in err


def test_shape_mismatch_names_the_tensor(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    bad = copy_model(other, tmp_path / "bad")
    sd = load_file(bad / "model.safetensors")
    sd["model.layers.2.mlp.up_proj.weight"] = sd["model.layers.2.mlp.up_proj.weight"][:-1].clone()
    save_file(sd, bad / "model.safetensors")
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5)), tmp_path / "out")
    assert "model.layers.2.mlp.up_proj.weight" in err and "shape" in err


def test_missing_tensor(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    bad = copy_model(other, tmp_path / "bad")
    sd = load_file(bad / "model.safetensors")
    del sd["model.layers.1.self_attn.k_proj.weight"]
    save_file(sd, bad / "model.safetensors")
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5)), tmp_path / "out")
    assert "model.layers.1.self_attn.k_proj.weight" in err and "missing" in err and str(bad) in err


@pytest.mark.parametrize("t, msg", [(".nan", "not a finite number"), ([0, "inf"], "not a finite number"),
                                    ([{"filter": "mlp", "value": "halb"}, {"value": 0.5}], "expected a number"),
                                    ([{"filter": "mlp", "value": None}], "expected a number")])
def test_t_that_is_not_a_finite_number(llama_pair, tmp_path, capsys, t, msg):
    base, other = llama_pair
    cfg = slices_cfg(base, other, t)
    f = tmp_path / "m.yaml"
    f.write_text(write_yaml(tmp_path / "x.yaml", cfg).read_text().replace("'.nan'", ".nan"))
    err = run_cli(capsys, f, tmp_path / "out")
    assert "parameters.t" in err and msg in err


@pytest.mark.parametrize("change, key", [
    ({"merge_method": "ties"}, "merge_method"),
    ({"tokenizer_source": "union"}, "tokenizer_source"),
    ({"tokenizer_source": "base"}, "tokenizer_source"),
    ({"chat_template": "chatml"}, "chat_template"),
    ({"modules": {}}, "modules"),
    ({"parameters": {"t": 0.5, "density": 0.3}}, "parameters.density"),
    ({"dtype": "int8"}, "dtype"),
    ({"foo": 1}, "foo"),
])
def test_unsupported_method_or_option(llama_pair, tmp_path, capsys, change, key):
    base, other = llama_pair
    cfg = slices_cfg(base, other, 0.5)
    cfg.update(change)
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", cfg), tmp_path / "out")
    assert f"'{key}'" in err


def test_unsupported_nested_options(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    cfg = slices_cfg(base, other, 0.5)
    cfg["slices"][0]["residual_weight"] = 0.1
    assert "slices.0.residual_weight" in run_cli(capsys, write_yaml(tmp_path / "a.yaml", cfg), tmp_path / "out")
    cfg = slices_cfg(base, other, 0.5)
    cfg["slices"][0]["sources"][1]["parameters"] = {"t": 0.3}
    assert "slices.0.sources.1.parameters" in run_cli(capsys, write_yaml(tmp_path / "b.yaml", cfg), tmp_path / "out")


def test_corrupt_safetensors(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    bad = copy_model(other, tmp_path / "bad")
    f = bad / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated download
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5)), tmp_path / "out")
    assert str(f) in err and "corrupt" in err
    f.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5)), tmp_path / "out")
    assert str(f) in err
    assert no_partial_output(tmp_path)


def test_pickled_checkpoints_are_refused(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    bad = copy_model(other, tmp_path / "bad")
    (bad / "model.safetensors").rename(bad / "pytorch_model.bin")
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5)), tmp_path / "out")
    assert "pytorch_model.bin" in err


def test_existing_output_needs_force(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    cfg = write_yaml(tmp_path / "m.yaml", slices_cfg(base, other, 0.5))
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    err = run_cli(capsys, cfg, out)
    assert str(out) in err and "--force" in err and (out / "keep.txt").exists()
    main(["merge", str(cfg), str(out), "--force", "--quiet"])
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").exists()


def test_failure_mid_merge_leaves_no_partial_output(llama_pair, tmp_path, capsys, monkeypatch):
    base, other = llama_pair
    bad = copy_model(other, tmp_path / "bad")
    sd = load_file(bad / "model.safetensors")
    sd["model.layers.3.post_attention_layernorm.weight"] = torch.arange(64)  # int: cannot be interpolated
    save_file(sd, bad / "model.safetensors")
    cfg = write_yaml(tmp_path / "m.yaml", slices_cfg(base, bad, 0.5))
    err = run_cli(capsys, cfg, tmp_path / "out")
    assert "model.layers.3.post_attention_layernorm.weight" in err
    assert no_partial_output(tmp_path)


def test_output_inside_an_input_is_refused(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    cfg = write_yaml(tmp_path / "m.yaml", slices_cfg(base, other, 0.5))
    err = run_cli(capsys, cfg, base.parent, "--force")
    assert "replace the input model" in err
    assert json.loads((base / "config.json").read_text())


def test_tensor_without_a_t_is_named(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    cfg = slices_cfg(base, other, [{"filter": "self_attn", "value": 0.3}])  # no default entry
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", cfg), tmp_path / "out")
    assert "model.embed_tokens.weight" in err and "parameters.t" in err


def test_malformed_yaml_and_missing_model_folder(llama_pair, tmp_path, capsys):
    base, other = llama_pair
    (tmp_path / "bad.yaml").write_text("merge_method: slerp\nslices: [\n")
    assert "malformed YAML" in run_cli(capsys, tmp_path / "bad.yaml", tmp_path / "out")
    cfg = slices_cfg(base, tmp_path / "nowhere", 0.5)
    err = run_cli(capsys, write_yaml(tmp_path / "m.yaml", cfg), tmp_path / "out")
    assert "slices.0.sources.1.model" in err and "nowhere" in err
