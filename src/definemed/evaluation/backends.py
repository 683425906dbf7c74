"""Where and how stage 06 runs each model variant: device and dtype, the lm-eval backend, the endpoint.

- `resolve_device_dtype("auto", "auto")`: cuda + bfloat16 when a GPU is visible (the models' native
  dtype: a 24B model is about 48 GB in bf16 instead of 96 GB in fp32), cpu + float32 otherwise.
- `load_for(cfg, v)`: the HF model and tokenizer of a variant on that device, or (None, None) when
  nothing local needs them (vLLM log-likelihoods and answers from a server).
- `lm_for(cfg, v, model, tok)`: lm-eval's HFLM around the loaded model (log-likelihood requests are
  batched `evaluate.batch_size` per forward pass), or lm-eval's vLLM backend (`evaluate.lm_backend:
  vllm`, tensor parallel for the 24B model; `pip install vllm` on the cluster).
- `endpoint_for(cfg, v)`: (base URL, served model name) of the variant's OpenAI-compatible server.
"""
from __future__ import annotations

from definemed.config import Config
from definemed.errors import DefinemedError


def resolve_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DefinemedError(f"evaluate.device: {device!r} requested but no CUDA device is visible")
    if device != "cpu" and not device.startswith("cuda"):
        raise DefinemedError(f"evaluate.device: {device!r} is not auto, cpu, cuda or cuda:N")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, dtype


def _needs_local_model(cfg: Config) -> bool:
    e = cfg.evaluate
    return e.lm_backend == "hf" or e.generation_backend == "transformers"


def load_for(cfg: Config, v):
    """(model, tokenizer) of variant `v` on the configured device and dtype, or (None, None)."""
    from definemed.evaluation.harness import load_model

    if not _needs_local_model(cfg):
        return None, None
    device, dtype = resolve_device_dtype(cfg.evaluate.device, cfg.evaluate.dtype)
    return load_model(v.path, cfg.models.trust_remote_code, dtype=dtype, device=device)


def lm_for(cfg: Config, v, model, tok):
    """The lm-eval model object that scores the benchmark tasks for variant `v`."""
    from definemed.evaluation.harness import wrap_hflm

    e = cfg.evaluate
    if e.lm_backend == "hf":
        return wrap_hflm(model, tok, e.batch_size, e.max_length)
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as err:  # pragma: no cover - depends on the cluster install
        raise DefinemedError(f"evaluate.lm_backend: vllm needs the vllm package ({err})") from None
    dtype = "bfloat16" if e.dtype == "auto" else e.dtype  # vLLM runs on GPUs and places the model itself
    try:
        return VLLM(pretrained=str(v.path), dtype=dtype, trust_remote_code=cfg.models.trust_remote_code,
                    tensor_parallel_size=e.vllm_tensor_parallel_size, batch_size="auto", max_length=e.max_length,
                    gpu_memory_utilization=e.vllm_gpu_memory_utilization, seed=cfg.seed)
    except ModuleNotFoundError as err:
        raise DefinemedError(f"evaluate.lm_backend: vllm needs the vllm package ({err})") from None


def endpoint_for(cfg: Config, v) -> tuple[str, str]:
    """(base URL, model name) answering for variant `v`: `endpoints[label]` or the shared `endpoint`,
    and `served_names[label]` or the folder path (vLLM's default name for `vllm serve <folder>`)."""
    e = cfg.evaluate
    url = e.endpoints.get(v.label) or e.endpoint
    if not url:
        raise DefinemedError(f"evaluate.endpoints.{v.label}: no server URL for this variant (and no evaluate.endpoint)")
    return url, e.served_names.get(v.label, str(v.path))
