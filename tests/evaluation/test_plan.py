"""`plan-evaluate`: GPUs and memory per variant from the folders' shapes; the paper's 24B reference does
not fit one A100-40 with the HF backend, fits two with vLLM tensor parallel 2, and the CLI refuses
what does not fit with one line and exit 1."""
import json

import pytest

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.evaluation import plan
from tests.conftest import run_main, write_config

# config.json of the paper's models (hub model cards): shapes only, no weights needed to plan
MISTRAL_SMALL_24B = {"hidden_size": 5120, "num_hidden_layers": 40, "intermediate_size": 32768, "vocab_size": 131072,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
                     "max_position_embeddings": 32768, "tie_word_embeddings": False}
QWEN25_7B = {"hidden_size": 3584, "num_hidden_layers": 28, "intermediate_size": 18944, "vocab_size": 152064,
             "num_attention_heads": 28, "num_key_value_heads": 4, "max_position_embeddings": 32768,
             "tie_word_embeddings": False}
MODELS = {"foundations": [{"name": "qwen2.5-7b", "architecture": "qwen2", "role": "small"},
                          {"name": "mistral-small-24b", "architecture": "mistral", "role": "reference"}]}


def _cfg(tmp_path, **evaluate):
    from definemed import artifacts

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_config(tmp_path / "p.yaml", models=MODELS, evaluate={"gpus": 4, "gpu_memory_gib": 40, "dtype": "bfloat16",
                                                                       "batch_size": 16, **evaluate})
    c = load_config(path)
    for name, shape in (("qwen2.5-7b", QWEN25_7B), ("mistral-small-24b", MISTRAL_SMALL_24B)):
        d = artifacts.foundation_model(c, name)
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(json.dumps(shape))
    return c, path


def test_parameter_counts_match_the_model_cards():
    assert plan.params_from_config(MISTRAL_SMALL_24B) / 1e9 == pytest.approx(23.57, abs=0.05)
    assert plan.params_from_config(QWEN25_7B) / 1e9 == pytest.approx(7.62, abs=0.05)


def test_safetensors_headers_give_the_exact_count(tiny_model_dir):
    import torch
    from safetensors.torch import load_file

    want = sum(t.numel() for f in tiny_model_dir.glob("*.safetensors") for t in load_file(f).values())
    assert plan.count_params(tiny_model_dir) == want


def test_hf_backend_spreads_the_24b_over_two_gpus_and_refuses_one(tmp_path, out_root):
    c, _ = _cfg(tmp_path, lm_backend="hf", generation_backend="transformers")
    ps = {p.variant: p for p in plan.plan_all(c)}
    ref = ps["mistral-small-24b"]
    assert ref.weights_gib == pytest.approx(43.9, abs=0.2) and ref.hf_gpus == 2 and ref.fits
    assert ps["qwen2.5-7b-cpt"].hf_gpus == 1  # planned from the base folder before 04_cpt ran
    c1, _ = _cfg(tmp_path / "one", lm_backend="hf", generation_backend="transformers", gpus=1)
    with pytest.raises(DefinemedError, match="mistral-small-24b: needs 2 GPUs, the job has evaluate.gpus = 1"):
        plan.check(plan.plan_all(c1))


def test_vllm_server_needs_tensor_parallel_2_for_the_24b(tmp_path, out_root, capsys):
    c, path = _cfg(tmp_path, lm_backend="server", generation_backend="openai", server="managed")
    bad = {p.variant: p for p in plan.plan_all(c)}["mistral-small-24b"]
    assert not bad.fits and "raise evaluate.vllm_tensor_parallel.mistral-small-24b" in bad.why
    r = run_main(capsys, "plan-evaluate", "--profile", str(path))
    rc, out, err = r.returncode, r.stdout, r.stderr
    assert rc == 1 and err.count("\n") == 1 and "mistral-small-24b: vLLM needs" in err
    assert "qwen2.5-7b-slerp" in out
    c2, path2 = _cfg(tmp_path / "tp2", lm_backend="server", generation_backend="openai", server="managed",
                     vllm_tensor_parallel={"mistral-small-24b": 2})
    ps = {p.variant: p for p in plan.plan_all(c2)}
    assert all(p.fits for p in ps.values()) and ps["mistral-small-24b"].server_gpus == 2
    assert ps["qwen2.5-7b"].server_gpus == 1 and ps["qwen2.5-7b"].hf_gpus == 0
    r = run_main(capsys, "plan-evaluate", "--profile", str(path2))
    rc, out = r.returncode, r.stdout
    assert rc == 0 and "vllm(tp=2)" in out
