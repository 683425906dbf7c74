"""Memory and time plan of a CPT run per GPU (`python -m definemed plan-cpt --profile P`).

Parameter counts are exact arithmetic over a decoder's architecture config (Llama / Mistral /
Qwen2 layout: embeddings, per layer q/k/v/o projections with Qwen2's q/k/v biases, SwiGLU MLP and
two RMSNorms, final norm, untied or tied LM head); a test checks them against instantiated models.
The published 7B/24B architectures are data below (numbers copied from each model's
`config.json` on the Hugging Face hub), so the plan needs no download.

Memory per GPU under FSDP2 with `dp_shard = world / dp_replicate` ranks per shard group:
- sharded, per rank: fp32 master parameters (4 B/param), fp32 gradients (4), AdamW m and v (8);
- in flight: the unsharded compute-dtype parameters of the root (embeddings, LM head, final norm;
  the root is not resharded after forward) and of two decoder layers (current and prefetched), and
  one group's unsharded gradient in compute dtype plus its fp32 reduce-scatter copy;
- with `accumulate: no_sync` instead: full unsharded fp32 gradients of the whole model;
- activations of one micro batch (bytes per token per layer listed in `activation_bytes_per_token`;
  SDPA memory-efficient kernel, no T x T scores); with activation checkpointing only each layer's
  input is kept, plus one layer's activations during its recomputation;
- logits: compute-dtype logits, their fp32 upcast and fp32 gradient, for the whole micro batch or
  for one `loss_chunk_tokens` chunk;
- `cluster.reserved_gib` for the CUDA context, NCCL buffers and fragmentation (an assumption).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.training.flops import flops_per_token, peak_flops

GIB = 2**30

# Architecture numbers of the paper's foundation models, from their config.json on the hub
# (huggingface.co/<id>/blob/main/config.json), and the sizes their model cards publish.
ARCHITECTURES: dict[str, dict] = {
    "mistralai/Mistral-7B-Instruct-v0.3": dict(
        model_type="mistral", vocab_size=32768, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
    "Qwen/Qwen2.5-7B-Instruct": dict(
        model_type="qwen2", vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False),
    "mistralai/Mistral-Small-24B-Instruct-2501": dict(
        model_type="mistral", vocab_size=131072, hidden_size=5120, intermediate_size=32768, num_hidden_layers=40,
        num_attention_heads=32, num_key_value_heads=8, head_dim=128, tie_word_embeddings=False),
}
PUBLISHED_PARAMS = {  # model cards: 7.25B (Mistral-7B v0.3); 7.61B total, 6.53B non-embedding (Qwen2.5-7B); 24B
    "mistralai/Mistral-7B-Instruct-v0.3": 7.25e9,
    "Qwen/Qwen2.5-7B-Instruct": 7.62e9,
    "mistralai/Mistral-Small-24B-Instruct-2501": 23.6e9,
}
# German FineMed-de tokens per word, for a plan made before the data is tokenized (an assumption:
# German web text with a multilingual 32k-152k BPE vocabulary gives about 1.6-1.8 tokens per word).
TOKENS_PER_WORD = 1.7


def _dims(a: dict) -> dict:
    h, nh = a["hidden_size"], a["num_attention_heads"]
    hd = a.get("head_dim") or h // nh
    nkv = a.get("num_key_value_heads") or nh
    return {"V": a["vocab_size"], "H": h, "I": a["intermediate_size"], "L": a["num_hidden_layers"],
            "q": nh * hd, "kv": nkv * hd}


def param_counts(a: dict) -> dict:
    """Exact parameter counts of a Llama/Mistral/Qwen2 decoder from its config (dict)."""
    d = _dims(a)
    H, I, q, kv = d["H"], d["I"], d["q"], d["kv"]
    qkv_bias = a.get("model_type") == "qwen2" or bool(a.get("attention_bias"))
    o_bias = a.get("model_type") != "qwen2" and bool(a.get("attention_bias"))
    attn = H * q + 2 * H * kv + q * H + (q + 2 * kv if qkv_bias else 0) + (H if o_bias else 0)
    mlp = 3 * H * I + (2 * I + H if a.get("mlp_bias") else 0)
    layer = attn + mlp + 2 * H
    emb = d["V"] * H
    head = 0 if a.get("tie_word_embeddings", True) else d["V"] * H
    total = emb + head + d["L"] * layer + H
    return {"total": total, "embedding": emb, "lm_head": head, "per_layer": layer, "layers": d["L"],
            "non_embedding": total - emb - head, "root": emb + head + H}


def activation_bytes_per_token(a: dict, act_bytes: int) -> int:
    """Bytes one decoder layer saves for backward per token (compute dtype `act_bytes`): two
    RMSNorms (fp32 upcast input and the normalised output), q and k before and after RoPE, v, the
    attention output and its contiguous copy for o_proj, the SwiGLU gate, up, SiLU and product."""
    d = _dims(a)
    norms = 2 * (4 + act_bytes) * d["H"]
    attn = act_bytes * (4 * d["q"] + 3 * d["kv"])
    mlp = act_bytes * 4 * d["I"]
    return norms + attn + mlp


@dataclass
class Plan:
    model: str
    source: str
    params: int
    world: int
    dp_shard: int
    dp_replicate: int
    seq_len: int
    micro_batch: int
    micro_batches_per_step: int
    activation_checkpointing: bool
    accumulate: str
    gpu: str | None
    gpu_memory_gib: float
    memory: dict = field(default_factory=dict)  # bytes per GPU by item
    memory_no_ckpt_activations: int = 0
    tokens_per_step: int = 0
    steps: int = 0
    tokens_total: int = 0
    tokens_source: str = ""
    flops_per_token: float = 0.0
    mfu: float = 0.0
    gpu_hours: float | None = None
    wall_days: float | None = None

    @property
    def total_bytes(self) -> int:
        return int(sum(self.memory.values()))

    @property
    def fits(self) -> bool:
        """Within the GPU's memory (a CPU plan, `cluster.gpu: null`, has no limit)."""
        return self.gpu is None or self.total_bytes <= self.gpu_memory_gib * GIB

    def as_dict(self) -> dict:
        return {**asdict(self), "total_bytes": self.total_bytes, "fits": self.fits}


def architecture(cfg: Config, name: str) -> tuple[dict, str]:
    """The model's architecture config: its folder's config.json if present, else the data above."""
    from definemed.training import stage

    folder = stage.foundation_dir(cfg, name)
    if (folder / "config.json").is_file():
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(folder, trust_remote_code=False).to_dict(), str(folder / "config.json")
    spec = next((m for m in cfg.models.foundations if m.name == name), None)
    if spec is not None and spec.hf_id in ARCHITECTURES:
        return ARCHITECTURES[spec.hf_id], f"{spec.hf_id} (architecture data in definemed.training.plan)"
    raise DefinemedError(f"{folder}: no config.json and no architecture data for '{name}' (run the zoo stage first)")


def memory_items(a: dict, *, seq_len: int, micro_batch: int, dp_shard: int, activation_checkpointing: bool,
                 accumulate: str, loss_chunk_tokens: int | None, compute_bytes: int, reserved_bytes: int) -> dict:
    """Bytes per GPU by item (see the module docstring)."""
    c = param_counts(a)
    P, b = c["total"], compute_bytes
    T = seq_len * micro_batch
    d = _dims(a)
    per_tok = activation_bytes_per_token(a, b)
    largest_group = max(c["root"], c["per_layer"])
    items = {
        "parameters (fp32 shard)": 4 * P / dp_shard,
        "gradients (fp32 shard)": 4 * P / dp_shard,
        "optimizer AdamW m, v (fp32 shard)": 8 * P / dp_shard,
        "unsharded parameters in flight": b * (c["root"] + 2 * c["per_layer"]) if dp_shard > 1 or b != 4 else 0,
        "unsharded gradients in flight": (b + 4) * largest_group if accumulate == "reduce_scatter" else 0,
        "accumulated unsharded gradients (no_sync)": 4 * P if accumulate == "no_sync" else 0,
    }
    if activation_checkpointing:
        items["activations (checkpointed)"] = d["L"] * T * b * d["H"] + T * per_tok
    else:
        items["activations"] = d["L"] * T * per_tok
    chunk = min(T, loss_chunk_tokens) if loss_chunk_tokens else T
    items["logits (+fp32 copy and gradient)"] = chunk * d["V"] * (b + 4 + 4)
    items["reserved (CUDA context, NCCL, fragmentation)"] = reserved_bytes
    return {k: int(v) for k, v in items.items()}


def check_per_model(cfg: Config) -> None:
    """`cpt.per_model` names only small foundation models of the profile."""
    known = {m.name for m in cfg.models.foundations}
    unknown = sorted(set(cfg.cpt.per_model) - known)
    if unknown:
        raise DefinemedError(f"cpt.per_model: {', '.join(unknown)} is not a foundation model of this profile "
                             f"(models.foundations: {', '.join(sorted(known))})")


def plan_for(cfg: Config, name: str, num_bins: int | None = None, world: int | None = None) -> Plan:
    """The plan of one small foundation under the profile's cpt section and cluster."""
    from definemed.training import stage

    check_per_model(cfg)
    c, cl = cfg.cpt.for_model(name), cfg.cpt.cluster
    a, source = architecture(cfg, name)
    world = world or c.nnodes * c.nproc_per_node
    if world % c.dp_replicate:
        raise DefinemedError(f"cpt.dp_replicate: {c.dp_replicate} does not divide the {world} GPUs")
    dp_shard = world // c.dp_replicate
    # the training dtype: bf16 on GPUs under "auto" (model.mixed_precision_policy), fp32 on CPU
    b = 2 if (c.mixed_precision == "bf16" or (c.mixed_precision == "auto" and cl.gpu is not None)) else 4
    mem = memory_items(a, seq_len=c.seq_len, micro_batch=c.micro_batch_size, dp_shard=dp_shard,
                       activation_checkpointing=c.activation_checkpointing, accumulate=c.accumulate,
                       loss_chunk_tokens=c.loss_chunk_tokens, compute_bytes=b, reserved_bytes=int(cl.reserved_gib * GIB))
    no_ckpt = memory_items(a, seq_len=c.seq_len, micro_batch=c.micro_batch_size, dp_shard=dp_shard,
                           activation_checkpointing=False, accumulate=c.accumulate,
                           loss_chunk_tokens=c.loss_chunk_tokens, compute_bytes=b, reserved_bytes=0)["activations"]
    counts = param_counts(a)
    tokens_per_step = c.global_batch * c.seq_len
    if num_bins is None:
        info_file = stage.stage_dir(cfg) / "data" / name / "prepared.json"
        if info_file.is_file():
            from definemed import io

            num_bins = io.read_json(info_file)["plan"]["num_bins"]
    if num_bins is not None:
        steps = stage.total_steps(cfg, num_bins)
        tokens_source = f"packing plan: {num_bins:,} sequences of {c.seq_len}"
    else:
        from definemed.reported import paper_value

        words = paper_value("corpus.finemed_words")["value"]
        seqs = math.ceil(words * TOKENS_PER_WORD / c.seq_len)
        steps = c.steps or max(1, math.ceil(c.epochs * seqs / c.global_batch))
        tokens_source = f"estimate: the paper's {words / 1e9:.1f}B FineMed-de words x {TOKENS_PER_WORD} tokens/word"
    fpt = flops_per_token(counts["non_embedding"], counts["layers"], _dims(a)["H"], c.seq_len, vocab=_dims(a)["V"])
    peak = peak_flops(cl.gpu) if cl.gpu else None
    gpu_hours = steps * tokens_per_step * fpt / (peak * cl.planned_mfu) / 3600 if peak else None
    return Plan(model=name, source=source, params=counts["total"], world=world, dp_shard=dp_shard,
                dp_replicate=c.dp_replicate, seq_len=c.seq_len, micro_batch=c.micro_batch_size,
                micro_batches_per_step=max(1, c.global_batch // (world * c.micro_batch_size)),
                activation_checkpointing=c.activation_checkpointing, accumulate=c.accumulate, gpu=cl.gpu,
                gpu_memory_gib=cl.gpu_memory_gib, memory=mem, memory_no_ckpt_activations=no_ckpt,
                tokens_per_step=tokens_per_step, steps=steps, tokens_total=steps * tokens_per_step,
                tokens_source=tokens_source, flops_per_token=fpt, mfu=cl.planned_mfu, gpu_hours=gpu_hours,
                wall_days=gpu_hours / world / 24 if gpu_hours else None)


CHANGES = (  # settings tried, one at a time, when a configuration does not fit
    {"activation_checkpointing": True},
    {"accumulate": "reduce_scatter"},
    {"dp_replicate": 1},
    {"loss_chunk_tokens": 512},
    {"micro_batch_size": 1},
)


def suggest(cfg: Config, name: str, num_bins: int | None = None) -> dict | None:
    """The first single cpt setting change (CHANGES) under which the model fits, or None."""
    c = cfg.cpt.for_model(name)
    for change in CHANGES:
        if all(getattr(c, k) == v for k, v in change.items()):
            continue
        alt = cfg.model_copy(update={"cpt": c.model_copy(update={**change, "per_model": {}})})
        if plan_for(alt, name, num_bins=num_bins).fits:
            return change
    return None


def check_fits(p: Plan, cfg: Config | None = None) -> None:
    """Refuse a configuration whose memory estimate exceeds the GPU (one line naming what to change)."""
    if p.fits:
        return
    biggest = max(p.memory, key=p.memory.get)
    change = suggest(cfg, p.model) if cfg is not None else None
    hint = (f"it fits with cpt.{', cpt.'.join(f'{k}: {v}' for k, v in change.items())} (for this model only: "
            f"cpt.per_model.{p.model})" if change else
            "lower cpt.seq_len, use GPUs with more memory or shard over more GPUs (cpt.nnodes)")
    raise DefinemedError(
        f"cpt: {p.model} needs about {p.total_bytes / GIB:.1f} GiB per GPU, more than the {p.gpu_memory_gib:g} GiB of "
        f"{p.gpu} (largest item: {biggest}, {p.memory[biggest] / GIB:.1f} GiB); {hint}")


def format_plan(p: Plan) -> str:
    lines = [f"{p.model}: {p.params / 1e9:.3f}B parameters ({p.source})",
             f"  mesh {p.dp_replicate} x {p.dp_shard} on {p.world} GPUs ({p.gpu}, {p.gpu_memory_gib:g} GiB); "
             f"seq_len {p.seq_len}, micro batch {p.micro_batch}, {p.micro_batches_per_step} micro batch(es) per "
             f"rank and step, accumulate {p.accumulate}, activation checkpointing "
             f"{'on' if p.activation_checkpointing else 'off'}",
             "  memory per GPU:"]
    for k, v in p.memory.items():
        lines.append(f"    {k:<48} {v / GIB:8.2f} GiB")
    lines.append(f"    {'total':<48} {p.total_bytes / GIB:8.2f} GiB  -> {'fits' if p.fits else 'DOES NOT FIT'}")
    lines.append(f"    (activations without checkpointing would be {p.memory_no_ckpt_activations / GIB:.2f} GiB)")
    lines.append(f"  tokens per step {p.tokens_per_step:,}; steps {p.steps:,}; tokens {p.tokens_total / 1e9:.2f}B "
                 f"({p.tokens_source})")
    if p.gpu_hours is not None:
        lines.append(f"  {p.flops_per_token / 1e9:.2f} GFLOP/token (LM head included); compute only, at the "
                     f"planned {p.mfu:.0%} MFU of {peak_flops(p.gpu) / 1e12:.0f} TFLOP/s (bf16 peak): "
                     f"{p.gpu_hours:,.0f} GPU-hours, {p.wall_days:.1f} days on {p.world} GPUs")
    return "\n".join(lines)


def plan_table(plans: list[Plan]) -> "pd.DataFrame":  # noqa: F821
    import pandas as pd

    rows = []
    for p in plans:
        row = {"model": p.model, "parameters (B)": p.params / 1e9}
        row.update({k: v / GIB for k, v in p.memory.items()})
        row.update({"total (GiB)": p.total_bytes / GIB, "fits": p.fits,
                    "activations without checkpointing (GiB)": p.memory_no_ckpt_activations / GIB,
                    "tokens per step": p.tokens_per_step, "steps": p.steps, "GPU-hours": p.gpu_hours,
                    "MFU assumed": p.mfu})
        rows.append(row)
    return pd.DataFrame(rows)


def plan_vs_run(cfg: Config, name: str) -> list[dict]:
    """The plan's numbers beside those of the finished run of this profile (its run record, the
    published weights and, when the run tracked memory, the measured peak by kind)."""
    from safetensors import safe_open

    from definemed.training import run_record, stage
    from definemed.training.launch import read_metrics

    p = plan_for(cfg, name)
    rec = run_record.read_record(cfg, name)
    if rec is None:
        raise DefinemedError(f"{stage.cpt_model_dir(cfg, name)}: no run record (train the model first)")
    out = stage.cpt_model_dir(cfg, name)
    real = 0
    for f in sorted(out.glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            real += sum(int(math.prod(st.get_slice(k).get_shape())) for k in st.keys())
    spec = rec["spec"]
    rows = [{"quantity": "parameters", "plan": p.params, "run": real},
            {"quantity": "tokens per step", "plan": p.tokens_per_step, "run": spec["global_batch"] * spec["seq_len"]},
            {"quantity": "optimizer steps", "plan": p.steps, "run": rec["steps"]}]
    metrics = read_metrics(run_record.run_dir(cfg, name))
    kinds = next((m["peak_mem_by_kind"] for m in reversed(metrics) if m.get("peak_mem_by_kind")), None)
    if kinds:
        rows += [{"quantity": "gradient bytes per rank", "plan": p.memory["gradients (fp32 shard)"],
                  "run": kinds.get("Gradient")},
                 {"quantity": "optimizer bytes per rank", "plan": p.memory["optimizer AdamW m, v (fp32 shard)"],
                  "run": kinds.get("Optstate")}]
    return [{"model": name, **r} for r in rows]
