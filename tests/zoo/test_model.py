import pytest
import torch
from safetensors.torch import load_file

from definemed.config import ModelSpec
from definemed.errors import DefinemedError
from definemed.zoo.hub import PICKLE_PATTERNS, resolve_hub_model
from definemed.zoo.model import check_model_folder, load_model, model_config, new_model
from tests.zoo.helpers import TINY_SIZE

IDS = {"bos": 1, "eos": 2, "pad": 2}


@pytest.mark.parametrize("arch,cls", [("mistral", "MistralForCausalLM"), ("qwen2", "Qwen2ForCausalLM")])
def test_tiny_models_round_trip_through_automodel(tmp_path, arch, cls):
    torch.manual_seed(0)
    model = new_model(model_config(arch, TINY_SIZE, 300, IDS, 64))
    model.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    assert type(loaded).__name__ == cls and loaded.config.tie_word_embeddings
    x = torch.tensor([[1, 5, 7, 9]])
    torch.testing.assert_close(loaded(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_folder_without_safetensors_is_a_clear_error(tmp_path):
    with pytest.raises(DefinemedError, match="model folder not found"):
        check_model_folder(tmp_path / "nope")
    with pytest.raises(DefinemedError, match="no config.json"):
        check_model_folder(tmp_path)
    model = new_model(model_config("mistral", TINY_SIZE, 300, IDS, 64))
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(DefinemedError, match=r"no \*\.safetensors weights \(found pytorch_model\.bin; pickled"):
        load_model(tmp_path)


def test_a_bin_pickle_next_to_safetensors_is_never_loaded(tmp_path):
    torch.manual_seed(0)
    model = new_model(model_config("qwen2", TINY_SIZE, 300, IDS, 64))
    model.save_pretrained(tmp_path)
    # a pickle with other weights, and one that would fail loudly if unpickled
    torch.save({k: torch.zeros_like(v) for k, v in model.state_dict().items()}, tmp_path / "pytorch_model.bin")
    (tmp_path / "training_args.bin").write_bytes(b"not a pickle")
    loaded = load_model(tmp_path)
    want = load_file(tmp_path / "model.safetensors")
    for k, v in loaded.state_dict().items():
        if k in want:
            torch.testing.assert_close(v, want[k])
    assert any(float(v.abs().sum()) > 0 for v in loaded.state_dict().values())


def _fake_download(files):
    calls = []

    def download(repo_id, revision, local_dir, allow_patterns, ignore_patterns):
        calls.append(dict(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns,
                          ignore_patterns=ignore_patterns))
        from pathlib import Path

        d = Path(local_dir)
        d.mkdir(parents=True, exist_ok=True)
        for f in files:
            (d / f).write_text("{}")
        return str(d)

    return download, calls


def test_hub_resolution_pins_revision_and_fetches_safetensors_only(tmp_path):
    spec = ModelSpec(name="qwen2.5-7b", hf_id="Qwen/Qwen2.5-7B-Instruct", architecture="qwen2",
                     revision="a09a35458c702b33eeacc393d103063234e8bc28")
    download, calls = _fake_download(["config.json", "model-00001-of-00002.safetensors", "tokenizer.json"])
    out = resolve_hub_model(spec, tmp_path / "qwen", ["*.safetensors", "*.json"], download=download)
    assert out["pinned"] and out["revision"] == spec.revision and out["path"] == str(tmp_path / "qwen")
    (call,) = calls
    assert call["repo_id"] == spec.hf_id and call["revision"] == spec.revision
    assert call["allow_patterns"] == ["*.safetensors", "*.json"] and "*.bin" in call["ignore_patterns"]
    assert set(PICKLE_PATTERNS) >= {"*.bin", "*.pt", "*.pth"}


def test_hub_resolution_bad_input(tmp_path):
    spec = ModelSpec(name="m", hf_id="mistralai/Mistral-7B-Instruct-v0.3", revision="0" * 40)
    only_bin, _ = _fake_download(["config.json", "pytorch_model.bin"])
    with pytest.raises(DefinemedError, match="no \\*.safetensors weights"):
        resolve_hub_model(spec, tmp_path / "a", ["*.safetensors", "*.json"], download=only_bin)
    with pytest.raises(DefinemedError, match="zoo.allow_patterns.*pickled"):
        resolve_hub_model(spec, tmp_path / "b", ["*.bin"], download=only_bin)
    with pytest.raises(DefinemedError, match=r"models.foundations\[m\].revision: revision 'main'.*not a commit hash"):
        resolve_hub_model(ModelSpec(name="m", hf_id="x/y"), tmp_path / "d", ["*.json"], download=only_bin)
    ok, _ = _fake_download(["config.json", "model.safetensors"])
    assert not resolve_hub_model(ModelSpec(name="m", hf_id="x/y"), tmp_path / "e", ["*.safetensors", "*.json"],
                                 download=ok, allow_unpinned=True)["pinned"]
    with pytest.raises(DefinemedError, match=r"models.foundations\[m\].hf_id: required"):
        resolve_hub_model(ModelSpec(name="m"), tmp_path / "c", ["*.json"], download=only_bin)


def test_paper_profile_downloads_every_foundation_with_safetensors_only(out_root, monkeypatch):
    import huggingface_hub

    from definemed.config import load_config
    from definemed.zoo import model_dir
    from definemed.zoo.stage import build_zoo

    download, calls = _fake_download(["config.json", "model.safetensors", "tokenizer.json"])
    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    cfg = load_config("paper")
    counts = build_zoo(cfg)
    assert [c["repo_id"] for c in calls] == [m.hf_id for m in cfg.models.foundations]
    for c in calls:
        assert "*.bin" in c["ignore_patterns"] and not any(p.endswith(".bin") for p in c["allow_patterns"])
    for m in cfg.models.foundations:
        assert counts["models"][m.name]["path"] == str(model_dir(cfg, m.name))
        assert str(model_dir(cfg, m.name)).startswith(str(out_root))
