"""Tiny model folders for tests and benchmarks, built locally (no hub access).

- `write_random_model` / `model_config`: random Llama / Mistral / Qwen2 tensors streamed into
  safetensors (a 0.5B-parameter bf16 model never sits in memory twice); `related=` makes the second
  model of a pair a perturbed copy of the first, as a fine-tuned model is of its base (merge tests).
- `tiny_model`: a random causal LM through transformers (training tests).
- `build_model` / `train_briefly`: a model with a chat tokenizer, optionally trained a little (stage-06 tests).
- `bpe_tokenizer`: the one byte-level BPE trainer behind every tokenizer here.
The pipeline's own foundation models are built by `definemed.zoo`; these only let each stage be tested
without them.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Optional

import torch

from definemed.merging.hf_folder import OutTensor, SafetensorsModel, ShardedWriter


def bpe_tokenizer(texts: Iterable[str], vocab_size: int, specials: list[str], eos: str | None = None,
                  unk: str | None = None, **kw):
    """A byte-level BPE trained on `texts` (specials first: <pad> = 0, <s> = 1, EOS = 2) as a fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=unk) if unk else models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    if unk:
        kw["unk_token"] = unk
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=specials[0], bos_token=specials[1],
                                   eos_token=eos or specials[2], **kw)


# ---- random tensors streamed to safetensors (merge tests and benchmarks) ----------------------------
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
    fast = bpe_tokenizer(texts, vocab_size, ["<pad>", "<s>", "<|im_end|>", "<|im_start|>"], eos="<|im_end|>",
                         additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return Path(folder)


# ---- random causal LMs through transformers (training tests) ----------------------------------
ARCHS = ("llama", "mistral", "qwen2")


def save_plain_tokenizer(texts: Iterable[str], out_dir: Path, vocab_size: int = 512):
    """A byte-level BPE tokenizer with <s>, </s>, <pad> trained on texts; saved to out_dir."""
    fast = bpe_tokenizer(texts, vocab_size, ["<pad>", "<s>", "</s>"])
    fast.save_pretrained(out_dir)
    return fast


def tiny_model(out_dir: Path, arch: str = "llama", vocab_size: int = 512, hidden: int = 64, layers: int = 2,
               heads: int = 4, kv_heads: int = 2, seed: int = 0, tokenizer_texts: Iterable[str] | None = None,
               tie: bool = True) -> Path:
    """Write a random `arch` causal LM (safetensors) and, given texts, a tokenizer to out_dir."""
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

    cls = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}[arch]
    cfg = cls(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
              num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=1024,
              tie_word_embeddings=tie, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    if tokenizer_texts is not None:
        save_plain_tokenizer(tokenizer_texts, out_dir, vocab_size)
    return out_dir


# ---- models with a chat tokenizer (stage-06 tests) ---------------------------------------------
ROLE_TAG_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def chat_tokenizer(texts: Iterable[str], vocab_size: int = 600):
    """A byte-level BPE with <pad> <s> </s> <unk> and a simple role-tag chat template (stage-06 tests)."""
    fast = bpe_tokenizer(texts, vocab_size, ["<pad>", "<s>", "</s>", "<unk>"], unk="<unk>")
    fast.chat_template = ROLE_TAG_TEMPLATE
    return fast


def build_model(out: str | Path, texts: Iterable[str], architecture: str = "llama", hidden: int = 64,
                layers: int = 2, seed: int = 0, vocab_size: int = 600, max_positions: int = 512,
                tokenizer=None) -> Path:
    """Write a random causal LM (llama | mistral | qwen2) with its tokenizer to `out`; return the path."""
    import torch
    import transformers as tf

    tok = tokenizer or chat_tokenizer(texts, vocab_size)
    kw = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=max_positions,
              tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
              pad_token_id=tok.pad_token_id)
    cfg_cls, model_cls = {
        "llama": (tf.LlamaConfig, tf.LlamaForCausalLM),
        "mistral": (tf.MistralConfig, tf.MistralForCausalLM),
        "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM),
    }[architecture]
    torch.manual_seed(seed)
    model = model_cls(cfg_cls(**kw))
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def train_briefly(folder: str | Path, texts: list[str], steps: int = 100, lr: float = 3e-3, batch: int = 16,
                  seq_len: int = 64, seed: int = 0) -> Path:
    """Train a stand-in in place on `texts` (plain next-token loss); for development stand-ins only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    ids = [t for s in texts for t in tok(s + tok.eos_token)["input_ids"]]
    data = torch.tensor(ids[: len(ids) // seq_len * seq_len]).view(-1, seq_len)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        xb = data[torch.randint(len(data), (batch,), generator=g)]
        loss = model(input_ids=xb, labels=xb).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder
