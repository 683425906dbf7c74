"""Model wiring for FSDP2, kept apart from the training loop (the torchtitan way).

`build_model` creates the Hugging Face causal LM on the meta device on every rank, applies optional
activation checkpointing and `fully_shard` per decoder layer then the root, allocates only the local
shards, and loads the foundation weights: rank 0 reads the safetensors and the shards are broadcast
(`set_model_state_dict(..., broadcast_from_rank0=True)`), so no rank ever holds a second full copy
of the model besides rank 0's read buffer.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from definemed.errors import DefinemedError


def read_config(model_dir: str | Path):
    from transformers import AutoConfig

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise DefinemedError(f"{model_dir}: not a Hugging Face model folder (no config.json)")
    if not list(model_dir.glob("*.safetensors")):
        raise DefinemedError(f"{model_dir}: no .safetensors weights (pickled .bin files are never loaded)")
    return AutoConfig.from_pretrained(model_dir, trust_remote_code=False)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a Hugging Face decoder-only model (Llama, Mistral, Qwen2 ...)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise DefinemedError(f"{type(model).__name__}: no model.layers ModuleList to shard per block")
    return layers


def param_shapes(model: nn.Module) -> dict[str, list[int]]:
    """Unsharded parameter shapes by name (works on meta, plain and FSDP-sharded models)."""
    out = {}
    for name, p in model.named_parameters():
        shape = p.shape  # a DTensor reports its global shape
        out[name.replace("._checkpoint_wrapped_module", "")] = list(shape)
    return out


def meta_model(model_dir: str | Path):
    from transformers import AutoModelForCausalLM

    cfg = read_config(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="sdpa")
    return model


def _restore_buffers(model: nn.Module, device: torch.device) -> None:
    """Non-persistent buffers (rotary inv_freq) are not in the state dict and are garbage after
    to_empty(): rebuild the modules that own them from their config, as they were constructed."""
    for mod in model.modules():
        own = [n for n, _ in mod.named_buffers(recurse=False)]
        if not own or not hasattr(mod, "config"):
            continue
        with torch.device(device):
            fresh = type(mod)(mod.config)
        for n in own:
            getattr(mod, n).copy_(getattr(fresh, n))


def mixed_precision_policy(kind: str, device: torch.device):
    from torch.distributed.fsdp import MixedPrecisionPolicy

    use_bf16 = kind == "bf16" or (kind == "auto" and device.type == "cuda")
    if use_bf16:
        # bf16 compute and all-gathers; gradients reduced in fp32 (reduce-scatter precision matters
        # when summing over many ranks); master weights and optimizer state stay fp32.
        return MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    return MixedPrecisionPolicy()


def build_model(model_dir: str | Path, mesh, device: torch.device, mixed_precision: str = "auto",
                activation_checkpointing: bool = False) -> nn.Module:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
    from torch.distributed.fsdp import fully_shard

    model = meta_model(model_dir)
    model.config.use_cache = False  # packed training: a KV cache would let documents see each other
    layers = decoder_layers(model)
    if activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        for i, layer in enumerate(layers):
            layers[i] = checkpoint_wrapper(layer)
    mp = mixed_precision_policy(mixed_precision, device)
    n = len(layers)
    for i, layer in enumerate(layers):
        # the last block stays gathered after forward: backward starts with it right away
        fully_shard(layer, mesh=mesh, mp_policy=mp, reshard_after_forward=i < n - 1)
    fully_shard(model, mesh=mesh, mp_policy=mp)
    model.to_empty(device=device)
    _restore_buffers(model, device)

    full_sd = None
    if dist.get_rank() == 0:
        from transformers import AutoModelForCausalLM

        src = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, use_safetensors=True,
                                                   trust_remote_code=False)
        full_sd = src.state_dict()
        del src
    set_model_state_dict(model, full_sd or {},
                         options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    return model


def count_params(model_dir: str | Path) -> dict:
    """Parameter counts of a model folder's architecture (from config, nothing loaded)."""
    m = meta_model(model_dir)
    seen, total, emb = set(), 0, 0
    for name, p in m.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if "embed_tokens" in name or name.startswith("lm_head"):
            emb += p.numel()
    cfg = m.config
    return {"total": total, "non_embedding": total - emb, "layers": cfg.num_hidden_layers,
            "hidden": cfg.hidden_size, "vocab": cfg.vocab_size}


EXPORT_FILES = ("special_tokens_map.json", "chat_template.jinja", "generation_config.json", "vocab.json",
                "merges.txt")


def _clean_name(name: str) -> str:
    return name.replace("._checkpoint_wrapped_module", "")


def nonfinite_parameters(model: nn.Module) -> list[str]:
    """Names of parameters with a NaN or Inf anywhere, over all ranks (collective)."""
    from definemed.finite import first_non_finite

    bad = [_clean_name(n) for n, p in model.named_parameters()
           if first_non_finite((p.to_local() if hasattr(p, "to_local") else p).detach().reshape(-1)) is not None]
    if dist.is_initialized() and dist.get_world_size() > 1:
        parts: list = [None] * dist.get_world_size()
        dist.all_gather_object(parts, bad)
        bad = sorted({n for part in parts for n in part})
    return bad


def export_dtype_of(cfg, export_dtype: str = "auto") -> torch.dtype:
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(export_dtype)
    if dtype is None:
        dtype = getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None) or torch.float32
        dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    return dtype


class ShardWriter:
    """Write tensors as Hugging Face safetensors shards of at most `max_bytes` each, holding one
    shard in memory: `model.safetensors`, or `model-0000k-of-0000n.safetensors` plus the index."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder, self.max_bytes = Path(folder), max_bytes
        self.buf: dict[str, torch.Tensor] = {}
        self.buf_bytes, self.files, self.weight_map, self.total = 0, [], {}, 0

    def add(self, name: str, t: torch.Tensor) -> None:
        n = t.numel() * t.element_size()
        if self.buf and self.buf_bytes + n > self.max_bytes:
            self._flush()
        self.buf[name] = t.contiguous()
        self.buf_bytes += n
        self.total += n

    def _flush(self) -> None:
        from safetensors.torch import save_file

        f = self.folder / f".shard-{len(self.files):05d}.safetensors"
        save_file(self.buf, str(f), metadata={"format": "pt"})
        self.files.append((f, list(self.buf)))
        self.buf, self.buf_bytes = {}, 0

    def close(self) -> list[Path]:
        if self.buf or not self.files:
            self._flush()
        n = len(self.files)
        names = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
        for (f, keys), name in zip(self.files, names):
            f.rename(self.folder / name)
            self.weight_map.update({k: name for k in keys})
        if n > 1:
            (self.folder / "model.safetensors.index.json").write_text(json.dumps(
                {"metadata": {"total_size": self.total}, "weight_map": dict(sorted(self.weight_map.items()))},
                indent=2) + "\n")
        return [self.folder / name for name in names]


def export_hf(model: nn.Module, model_dir: str | Path, out_dir: Path, export_dtype: str = "auto",
              extra_files: dict[str, str] | None = None, max_shard_bytes: int = 5 * 2**30) -> Path | None:
    """Write a Hugging Face folder (safetensors shards, config, tokenizer and generation config of
    the foundation) from the sharded model. Collective: every rank must call it.

    The weights are streamed: one parameter at a time is gathered (`full_tensor`), cast to the
    export dtype on rank 0 and added to the current shard; no full-model copy in fp32 (or at all)
    is ever built. A model with non-finite weights is refused before anything is written."""
    import contextlib
    import shutil

    from definemed.io import atomic_dir

    bad = nonfinite_parameters(model)
    if bad:
        raise DefinemedError(f"export: {len(bad)} tensor(s) with NaN/Inf values (first '{bad[0]}'); nothing exported")
    rank = dist.get_rank() if dist.is_initialized() else 0
    cfg = read_config(model_dir)
    dtype = export_dtype_of(cfg, export_dtype)
    with (atomic_dir(out_dir, force=True) if rank == 0 else contextlib.nullcontext()) as tmp:
        writer = ShardWriter(tmp, max_shard_bytes) if rank == 0 else None
        for name, p in model.named_parameters():  # tied LM head: listed once, as the embeddings
            full = p.full_tensor() if hasattr(p, "full_tensor") else p
            if writer is not None:
                writer.add(_clean_name(name), full.detach().to("cpu", dtype))
            del full
        if writer is None:
            return None
        writer.close()
        cfg.dtype = dtype
        cfg.use_cache = True  # for generation downstream; training forced it off
        cfg.save_pretrained(tmp)
        src = Path(model_dir)
        for f in src.iterdir():
            if f.is_file() and (f.name.startswith("tokenizer") or f.name in EXPORT_FILES):
                shutil.copy2(f, tmp / f.name)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
    return out_dir


def read_shapes_file(path: Path) -> dict[str, list[int]]:
    return json.loads(path.read_text(encoding="utf-8"))
