"""Random Hugging Face model folders for tests and benchmarks (no hub access, nothing trained).

`write_random_model` streams random tensors of a Llama / Mistral / Qwen2 layout straight into
safetensors (a 0.5B-parameter bf16 model never sits in memory twice); `related=` makes the second
model of a pair a perturbed copy of the first, as a fine-tuned model is of its base, so SLERP sees
realistic angles. `write_tokenizer` adds a small byte-level BPE with a chat template.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import torch

from definemed.merging.hf_folder import OutTensor, SafetensorsModel, ShardedWriter

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

QWEN2_05B = dict(architecture="qwen2", hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                 num_attention_heads=14, num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True)
"""The shape of Qwen/Qwen2-0.5B(-Instruct) (about 494M parameters)."""


def model_config(architecture: str = "llama", **kw) -> "transformers.PretrainedConfig":  # noqa: F821
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[architecture]
    defaults = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=256, max_position_embeddings=512, tie_word_embeddings=False,
                    bos_token_id=1, eos_token_id=2, pad_token_id=0)
    defaults.update(kw)
    cfg = cls(**defaults)
    cfg.architectures = [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                          "qwen2": "Qwen2ForCausalLM"}[architecture]]
    return cfg


def tensor_layout(config) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of a causal LM's parameters (built on the meta device: no memory)."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    out = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    if getattr(config, "tie_word_embeddings", False):
        out = [(k, s) for k, s in out if k != "lm_head.weight"]
    return out


def write_random_model(folder: str | Path, config, *, dtype: torch.dtype = torch.float32, seed: int = 0,
                       related: Optional[str | Path] = None, noise: float = 0.2,
                       max_shard_bytes: int = 5 * 1000**3) -> Path:
    """Write config.json + safetensors of a random model; `related=folder` perturbs that model instead:
    w' = w + noise * std(w) * N(0, 1)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["dtype"] = str(dtype).removeprefix("torch.")
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    layout = tensor_layout(config)
    g = torch.Generator().manual_seed(seed)
    src = SafetensorsModel(related) if related is not None else None
    writer = ShardedWriter(folder, [OutTensor(n, dtype, s) for n, s in layout], max_shard_bytes)
    try:
        for name, shape in layout:
            rows = shape[0] if shape else 1
            inner = math.prod(shape[1:]) if shape else 1
            step = max(1, (1 << 22) // max(1, inner))
            for r0 in range(0, rows, step):
                sub = (min(step, rows - r0),) + tuple(shape[1:])
                if src is not None:
                    base = src.tensor(name).reshape(shape)[r0:r0 + sub[0]].float()
                    std = float(base.std()) if base.numel() > 1 else 0.02
                    x = base + noise * max(std, 1e-3) * torch.randn(sub, generator=g)
                elif name.endswith("norm.weight"):
                    x = 1.0 + 0.1 * torch.randn(sub, generator=g)
                else:
                    x = 0.02 * torch.randn(sub, generator=g)
                writer.write(name, r0 * inner * dtype.itemsize, x.to(dtype).reshape(-1))
            if src is not None:
                src.release(name)
    finally:
        writer.close()
        if src is not None:
            src.close()
    return folder


def write_tokenizer(folder: str | Path, texts: list[str], vocab_size: int = 256) -> Path:
    """A byte-level BPE trained on `texts`, with ChatML-style special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "<|im_end|>", "<|im_start|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="<|im_end|>",
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return Path(folder)
