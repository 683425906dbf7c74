"""Where and how stage 06 runs each model variant: device and dtype, the lm-eval backend, the endpoint.

- `resolve_device_dtype("auto", "auto")`: cuda + bfloat16 when a GPU is visible (the models' native
  dtype: a 24B model is about 48 GB in bf16 instead of 96 GB in fp32), cpu + float32 otherwise.
- `load_for(cfg, v)`: the HF model and tokenizer of a variant on that device (`cuda`: spread over
  every visible GPU with device_map="auto", so the 24B reference spans two A100-40), or (None, None)
  when nothing local needs them (log-likelihoods and answers from vLLM / a server).
- `lm_for(cfg, v, model, tok)`: lm-eval's HFLM around the loaded model (log-likelihood requests are
  batched `evaluate.batch_size` per forward pass), lm-eval's in-process vLLM backend (`lm_backend:
  vllm`), or lm-eval's `local-completions` client of the variant's server (`lm_backend: server`:
  prompt log-probs of /v1/completions, echo + logprobs, as `lm_eval --model local-completions` does).
- `general_perplexity_of(cfg, v, model, lm, token_file)`: perplexity of a held-out token file with the
  HF model (`lm_metrics.perplexity`) or, without one, through the lm-eval backend's token
  log-likelihoods (`lm_perplexity`: the same pieces, the same sum); never a None model.
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


def context_length(cfg: Config, v) -> int:
    """lm-eval's context length for variant `v`: evaluate.max_length, else the model's
    max_position_embeddings (config.json), else 2048 (lm-eval's default for API models)."""
    import json

    if cfg.evaluate.max_length:
        return cfg.evaluate.max_length
    try:
        n = json.loads((v.path / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError):
        n = None
    return int(n or 2048)


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
        if model is None:
            raise DefinemedError(f"{v.label}: evaluate.lm_backend: hf needs the loaded model (load_for)")
        return wrap_hflm(model, tok, e.batch_size, e.max_length)
    if e.lm_backend == "server":
        from lm_eval.models.openai_completions import LocalCompletionsAPI

        url, name = endpoint_for(cfg, v)
        # the tokenizer is the variant's own folder (requests go as token ids, context lengths are exact);
        # the context must hold one perplexity piece (cpt.seq_len tokens) plus the one generated token
        return LocalCompletionsAPI(base_url=url.rstrip("/") + "/completions", model=name, tokenizer=str(v.path),
                                   tokenizer_backend="huggingface", tokenized_requests=True, batch_size=e.batch_size,
                                   max_length=max(context_length(cfg, v), cfg.cpt.seq_len + 2), seed=cfg.seed,
                                   max_retries=3, trust_remote_code=cfg.models.trust_remote_code)
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as err:  # pragma: no cover - depends on the cluster install
        raise DefinemedError(f"evaluate.lm_backend: vllm needs the vllm package ({err})") from None
    from definemed.evaluation.serving import tensor_parallel

    dtype = "bfloat16" if e.dtype == "auto" else e.dtype  # vLLM runs on GPUs and places the model itself
    try:
        return VLLM(pretrained=str(v.path), dtype=dtype, trust_remote_code=cfg.models.trust_remote_code,
                    tensor_parallel_size=tensor_parallel(cfg, v.label), batch_size="auto", max_length=e.max_length,
                    gpu_memory_utilization=e.vllm_gpu_memory_utilization, seed=cfg.seed)
    except ModuleNotFoundError as err:
        raise DefinemedError(f"evaluate.lm_backend: vllm needs the vllm package ({err})") from None


def lm_perplexity(lm, token_file, seq_len: int) -> dict:
    """`lm_metrics.perplexity` through an lm-eval backend's token log-likelihoods (vLLM, a server): the
    documents are cut into the same pieces as CPT packs them (`plan_packing`), and each piece's tokens
    after its first are scored given the tokens before them inside the piece (what the packed HF
    forward with restarting position ids computes). exp(summed NLL / predicted tokens)."""
    import math

    from definemed.packing import TokenFile, plan_packing

    tf = token_file if isinstance(token_file, TokenFile) else TokenFile(token_file)
    if len(tf.lengths) == 0:
        raise DefinemedError(f"{token_file}: perplexity of an empty token file")
    plan = plan_packing(tf.lengths, seq_len)
    reqs = []
    for d, s, n in zip(plan.doc_index.tolist(), plan.start.tolist(), plan.length.tolist()):
        if n < 2:
            continue
        o = int(tf.offsets[d]) + s
        ids = [int(x) for x in tf.tokens[o:o + n]]
        reqs.append((("", ""), ids[:1], ids[1:]))
    res = lm._loglikelihood_tokens(reqs)
    n_tok = sum(len(r[2]) for r in reqs)
    mean = -sum(float(lp) for lp, _ in res) / max(n_tok, 1)
    return {"ppl": math.exp(min(mean, 700.0)), "nll": mean, "tokens": n_tok, "docs": int(len(tf.lengths))}


def general_perplexity_of(cfg: Config, v, model, lm, token_file) -> dict:
    """Perplexity of `token_file` for variant `v`: the loaded HF model when there is one (the project's
    one definition, `lm_metrics.perplexity`), else the lm-eval backend (`lm_perplexity`)."""
    if model is not None:
        from definemed.lm_metrics import perplexity

        return perplexity(model, token_file, cfg.cpt.seq_len, batch_size=cfg.evaluate.batch_size)
    if lm is None:
        raise DefinemedError(f"{v.label}: no model and no lm-eval backend to measure perplexity with")
    return lm_perplexity(lm, token_file, cfg.cpt.seq_len)


def endpoint_for(cfg: Config, v) -> tuple[str, str]:
    """(base URL, model name) answering for variant `v`: `endpoints[label]` or the shared `endpoint`,
    and `served_names[label]` or the folder path (vLLM's default name for `vllm serve <folder>`)."""
    e = cfg.evaluate
    if e.server == "managed":  # the stage's own server for this variant (evaluation/serving.py)
        return f"http://{e.server_host}:{e.server_port}/v1", v.label
    url = e.endpoints.get(v.label) or e.endpoint
    if not url:
        raise DefinemedError(f"evaluate.endpoints.{v.label}: no server URL for this variant (and no evaluate.endpoint)")
    return url, e.served_names.get(v.label, str(v.path))
