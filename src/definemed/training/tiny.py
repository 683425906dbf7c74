"""Tiny random causal LMs and a byte-level BPE tokenizer, built locally for tests and benchmarks.

The pipeline itself trains the foundation models of `definemed.zoo`; these stand-ins only let the
training code be tested without them (nothing is loaded from the hub).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch

ARCHS = ("llama", "mistral", "qwen2")


def train_tokenizer(texts: Iterable[str], out_dir: Path, vocab_size: int = 512):
    """A byte-level BPE tokenizer with <s>, </s>, <pad> trained on texts; saved to out_dir."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
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
        train_tokenizer(tokenizer_texts, out_dir, vocab_size)
    return out_dir
