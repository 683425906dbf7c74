"""Stage 06's GPU plan: GPUs and memory per variant for the configured backend; refuses what does not fit.

    python -m definemed plan-evaluate --profile paper      # before the GPU job (exit 1 if a variant does not fit)

Per variant, from its folder (the base foundation's when the CPT / merge folder does not exist yet):
parameters (safetensors headers, else config.json), weights = parameters x bytes of `evaluate.dtype`.
- `lm_backend: hf`: weights + 10 % + the logits and log-softmax of one batch in the model dtype
  (batch_size x 1,024 tokens x vocab x 4 bytes) + 1.5 GiB CUDA context per GPU, spread with device_map="auto":
  GPUs = ceil(need / (gpu_memory_gib - 1.5)).
- vLLM (`lm_backend: vllm|server`, or `generation_backend: openai` with `server: managed`): tensor
  parallel `tp` GPUs, each holding weights / tp + 2 GiB (activations, CUDA graphs) + the KV cache of one
  full-context sequence, within `vllm_gpu_memory_utilization` x gpu_memory_gib.
The variant needs the sum when an HF model and its server are up at once (lm_backend hf or vllm with a
managed server). A variant fits when that sum is at most `evaluate.gpus` and each vLLM share fits.
These are estimates (documented in docs/evaluation.md); only a GPU run measures the truth.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from definemed.errors import DefinemedError

GIB = 2**30
BYTES = {"bfloat16": 2, "float16": 2, "float32": 4, "auto": 2}
CUDA_CONTEXT_GIB = 1.5
VLLM_OVERHEAD_GIB = 2.0
HF_REQUEST_TOKENS = 1024  # a long 5-shot MMLU-de / MedQA-de request; lm-eval batches requests by length


@dataclass
class VariantPlan:
    variant: str
    params_b: float
    weights_gib: float
    backend: str
    hf_gpus: int
    hf_gib_per_gpu: float
    server_gpus: int
    server_gib_per_gpu: float
    gpus: int
    fits: bool
    why: str


def count_params(folder: Path) -> int:
    """Parameters of a HF folder: the tensor shapes in its safetensors headers (no weights read)."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return params_from_config(json.loads((Path(folder) / "config.json").read_text()))
    n = 0
    for f in files:
        with safe_open(f, "pt") as fh:
            for k in fh.keys():
                n += math.prod(fh.get_slice(k).get_shape())
    return n


def params_from_config(c: dict) -> int:
    """Parameters of a Llama-style decoder (Mistral, Qwen2) from config.json."""
    h, n_layers, inter, vocab = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
    heads = c["num_attention_heads"]
    head_dim = c.get("head_dim") or h // heads
    kv = c.get("num_key_value_heads", heads) * head_dim
    attn = h * heads * head_dim + 2 * h * kv + heads * head_dim * h
    per_layer = attn + 3 * h * inter + 2 * h
    emb = vocab * h * (1 if c.get("tie_word_embeddings") else 2)
    return n_layers * per_layer + emb + h


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def kv_bytes(c: dict, tokens: int, dtype_bytes: int) -> int:
    heads = c["num_attention_heads"]
    head_dim = c.get("head_dim") or c["hidden_size"] // heads
    return 2 * c["num_hidden_layers"] * c.get("num_key_value_heads", heads) * head_dim * tokens * dtype_bytes


def _source_folder(cfg, v) -> Path:
    from definemed import artifacts

    for d in (v.path, artifacts.foundation_model(cfg, v.family)):
        if (d / "config.json").is_file():
            return d
    raise DefinemedError(f"{v.label}: no model folder to plan from ({v.path}; run the zoo stage first)")


def plan_variant(cfg, v) -> VariantPlan:
    from definemed.evaluation.serving import tensor_parallel

    e = cfg.evaluate
    folder = _source_folder(cfg, v)
    c = _config(folder)
    b = BYTES[e.dtype]
    n = count_params(folder)
    weights = n * b
    ctx = e.max_length or c.get("max_position_embeddings") or 2048
    uses_hf = e.lm_backend == "hf" or e.generation_backend == "transformers"
    uses_server = e.lm_backend in ("vllm", "server") or (e.generation_backend == "openai" and e.server == "managed")
    hf_gpus = hf_per = 0
    why = []
    if uses_hf:
        logits = e.batch_size * min(ctx, HF_REQUEST_TOKENS) * c["vocab_size"] * 4  # logits + log-softmax
        need = weights * 1.1 + logits
        hf_gpus = max(1, math.ceil(need / ((e.gpu_memory_gib - CUDA_CONTEXT_GIB) * GIB)))
        hf_per = need / hf_gpus / GIB + CUDA_CONTEXT_GIB
    srv_gpus = srv_per = 0
    if uses_server:
        srv_gpus = tensor_parallel(cfg, v.label)
        srv_per = (weights / srv_gpus + kv_bytes(c, ctx, b) / srv_gpus) / GIB + VLLM_OVERHEAD_GIB
        budget = e.vllm_gpu_memory_utilization * e.gpu_memory_gib
        if srv_per > budget:
            why.append(f"vLLM needs {srv_per:.1f} GiB per GPU with tensor parallel {srv_gpus} > "
                       f"{budget:.1f} GiB (vllm_gpu_memory_utilization x gpu_memory_gib): raise "
                       f"evaluate.vllm_tensor_parallel.{v.label}")
    both_up = uses_hf and uses_server and e.server == "managed"
    gpus = hf_gpus + srv_gpus if both_up else max(hf_gpus, srv_gpus)
    if gpus > e.gpus:
        why.append(f"needs {gpus} GPUs, the job has evaluate.gpus = {e.gpus}")
    backend = "+".join(x for x, on in (("hf", uses_hf), (f"vllm(tp={srv_gpus})", uses_server)) if on)
    return VariantPlan(v.label, round(n / 1e9, 3), round(weights / GIB, 2), backend, hf_gpus, round(hf_per, 1),
                       srv_gpus, round(srv_per, 1), gpus, not why, "; ".join(why) or "fits")


def plan_all(cfg) -> list[VariantPlan]:
    from definemed.evaluation.models import variants

    return [plan_variant(cfg, v) for v in variants(cfg)]


def table(plans: list[VariantPlan]) -> str:
    import pandas as pd

    return pd.DataFrame([asdict(p) for p in plans]).to_string(index=False)


def check(plans: list[VariantPlan]) -> None:
    bad = [f"{p.variant}: {p.why}" for p in plans if not p.fits]
    if bad:
        raise DefinemedError("evaluate plan: " + "; ".join(bad))
