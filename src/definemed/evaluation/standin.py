"""Tiny causal-LM folders built here, for tests, benchmarks and development stand-ins.

The real models of stage 06 come from the zoo (base), 04_cpt and 05_merge. Tests and the generation
benchmark must not depend on those stages, so they build a random (or briefly trained) Llama / Qwen2
model in a temporary folder: a byte-level BPE tokenizer trained on the given texts, a chat template,
safetensors weights. A few hundred thousand parameters: loads in milliseconds on a CPU.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 600):
    """A byte-level BPE (HF `tokenizers`) wrapped as a PreTrainedTokenizerFast with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(out: str | Path, texts: Iterable[str], architecture: str = "llama", hidden: int = 64,
                layers: int = 2, seed: int = 0, vocab_size: int = 600, max_positions: int = 512,
                tokenizer=None) -> Path:
    """Write a random causal LM (llama | mistral | qwen2) with its tokenizer to `out`; return the path."""
    import torch
    import transformers as tf

    tok = tokenizer or train_tokenizer(texts, vocab_size)
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
