"""Device, dtype and backend are config values: the CLI and config select cuda / bfloat16 / vLLM; on
this CPU machine auto resolves to cpu / float32 and the tests still run; endpoints map per variant."""
import pytest
import torch

from definemed.errors import DefinemedError
from definemed.evaluation import backends
from definemed.evaluation.models import Variant


def test_auto_resolves_to_the_hardware():
    dev, dt = backends.resolve_device_dtype("auto", "auto")
    assert (dev, dt) == (("cuda", "bfloat16") if torch.cuda.is_available() else ("cpu", "float32"))
    assert backends.resolve_device_dtype("cpu", "bfloat16") == ("cpu", "bfloat16")
    with pytest.raises(DefinemedError, match="evaluate.device: 'tpu'"):
        backends.resolve_device_dtype("tpu", "auto")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(DefinemedError, match="evaluate.device: 'cuda' requested but no CUDA device"):
        backends.resolve_device_dtype("cuda", "bfloat16")


def test_cli_and_config_select_cuda_bfloat16_and_vllm(tmp_path, out_root, monkeypatch):
    from typer.testing import CliRunner

    import definemed.cli as cli
    from definemed.config import load_config
    from tests.conftest import write_config

    paper = load_config("paper")
    assert (paper.evaluate.device, paper.evaluate.dtype) == ("cuda", "bfloat16")
    seen = {}

    def fake_run_stage(stage, profile, overrides=None, force=False):
        seen["cfg"] = load_config(profile, overrides={k: v for k, v in overrides.items() if v is not None})
        return {"counts": {"n_variants": 0, "n_tasks": 0, "n_test_questions": 0, "n_winrate_questions": 0,
                           "n_invalid_judgments": 0, "wall_s": 0}}

    import definemed.runner as runner

    monkeypatch.setattr(runner, "run_stage", fake_run_stage)
    f = write_config(tmp_path / "c.yaml")
    r = CliRunner().invoke(cli.app, ["evaluate", "--profile", str(f), "--device", "cuda", "--dtype", "bfloat16",
                                     "--lm-backend", "vllm"])
    assert r.exit_code == 0, r.output
    e = seen["cfg"].evaluate
    assert (e.device, e.dtype, e.lm_backend) == ("cuda", "bfloat16", "vllm")


def test_model_loads_in_the_requested_dtype(tiny_model_dir):
    from definemed.evaluation.harness import load_model

    model, _ = load_model(tiny_model_dir, dtype="bfloat16", device="cpu")
    assert next(model.parameters()).dtype == torch.bfloat16 and model.device.type == "cpu"


def test_vllm_backend_gets_the_config_values(tiny_model_dir, tmp_path, monkeypatch):
    import sys
    import types

    from definemed.config import load_config
    from tests.conftest import write_config

    made = {}
    fake = types.ModuleType("lm_eval.models.vllm_causallms")
    fake.VLLM = lambda **kw: made.update(kw) or "vllm-lm"
    monkeypatch.setitem(sys.modules, "lm_eval.models.vllm_causallms", fake)
    cfg = load_config(write_config(tmp_path / "c.yaml", evaluate={"lm_backend": "vllm", "device": "cuda", "dtype": "bfloat16",
                                                                  "vllm_tensor_parallel_size": 2, "generation_backend": "openai"}))
    v = Variant("ref", "ref", "reference", tiny_model_dir)
    assert backends.load_for(cfg, v) == (None, None)  # nothing loaded locally: vLLM and a server do the work
    assert backends.lm_for(cfg, v, None, None) == "vllm-lm"
    assert made["pretrained"] == str(tiny_model_dir) and made["dtype"] == "bfloat16" and made["tensor_parallel_size"] == 2


def test_each_variant_maps_to_its_endpoint(tmp_path):
    from definemed.config import load_config
    from tests.conftest import write_config

    cfg = load_config(write_config(tmp_path / "c.yaml", evaluate={
        "endpoint": "http://router:8000/v1", "endpoints": {"m-cpt": "http://node7:8000/v1"},
        "served_names": {"m": "mistral-base"}}))
    assert backends.endpoint_for(cfg, Variant("m-cpt", "m", "cpt", tmp_path / "cpt")) == ("http://node7:8000/v1", str(tmp_path / "cpt"))
    assert backends.endpoint_for(cfg, Variant("m", "m", "base", tmp_path / "b")) == ("http://router:8000/v1", "mistral-base")
    cfg = load_config(write_config(tmp_path / "d.yaml", evaluate={"endpoint": None}))
    with pytest.raises(DefinemedError, match="evaluate.endpoints.m: no server URL"):
        backends.endpoint_for(cfg, Variant("m", "m", "base", tmp_path))
