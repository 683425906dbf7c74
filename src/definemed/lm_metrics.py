"""Language-model measurements any stage can reuse: perplexity and the instruction-format rate.

    model, tok = load_causal_lm(folder)
    perplexity(model, token_file, seq_len)     # {'ppl', 'nll', 'tokens', 'docs'}
    format_rate(model, tok, prompts)           # {'rate', 'ended', 'n', 'mean_new_tokens'}

- Perplexity: exp of the mean negative log-likelihood over every predicted token of the held-out
  documents of a token file, packed as CPT packs them (one definition for stages 04, 05 and the zoo).
- Instruction-format rate: the share of chat prompts whose greedy answer ends with an end-of-turn
  token (the tokenizer's EOS or the generation config's eos_token_id) within `max_new_tokens` new
  tokens. It measures whether a model still follows the chat format (CPT on raw text erodes it),
  not whether the answer is right.

Only local folders are loaded (safetensors; no remote code unless `trust_remote_code=True`).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from definemed.errors import DefinemedError


def load_causal_lm(folder: str | Path, device: str = "cpu", dtype: torch.dtype | None = None,
                   trust_remote_code: bool = False):
    """A local HF causal LM and its tokenizer (safetensors only), in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise DefinemedError(f"{folder}: not a Hugging Face model folder (no config.json)")
    tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    kw = {"dtype": dtype} if dtype is not None else {}
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, trust_remote_code=trust_remote_code,
                                                 **kw).to(device)
    model.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@torch.inference_mode()
def perplexity(model, token_file, seq_len: int, batch_size: int = 16) -> dict:
    """Token-level perplexity of a causal LM on the documents of a token file (definemed.packing):
    documents are packed best-fit-decreasing into `seq_len` sequences exactly as CPT packs them,
    position ids restart per document so no token sees another document, and every token after a
    document's first is predicted once. exp(summed NLL / predicted tokens). Stages 04 and 05 and the
    zoo all measure with this function on the same held-out token files, so their numbers compare."""
    from definemed.packing import PackedDataset, TokenFile, plan_packing
    from definemed.training.loop import causal_lm_loss

    tf = token_file if isinstance(token_file, TokenFile) else TokenFile(token_file)
    if len(tf.lengths) == 0:
        raise DefinemedError(f"{token_file}: perplexity of an empty token file")
    ds = PackedDataset(plan_packing(tf.lengths, seq_len), tf)
    device = next(model.parameters()).device
    nll, n = 0.0, 0
    for i in range(0, len(ds), batch_size):
        items = [ds[j] for j in range(i, min(len(ds), i + batch_size))]
        batch = {k: torch.from_numpy(np.stack([it[k] for it in items])).to(device)
                 for k in ("input_ids", "position_ids", "labels")}
        loss, cnt = causal_lm_loss(model, batch)
        nll += float(loss)
        n += int(cnt)
    mean = nll / max(n, 1)
    return {"ppl": math.exp(min(mean, 700.0)), "nll": mean, "tokens": n, "docs": int(len(tf.lengths))}


def end_of_turn_ids(model, tokenizer) -> list[int]:
    """Token ids that end an assistant turn: the tokenizer's EOS and the generation config's eos_token_id."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, (list, tuple)):
        ids.update(int(e) for e in eos)
    if not ids:
        raise DefinemedError("format_rate: the tokenizer has no EOS token and the model no eos_token_id")
    return sorted(ids)


@torch.inference_mode()
def format_rate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 48, batch_size: int = 16,
                system: str | None = None) -> dict:
    """Share of chat prompts answered with an end-of-turn token within the budget (greedy decoding)."""
    if not getattr(tokenizer, "chat_template", None):
        raise DefinemedError(f"{getattr(tokenizer, 'name_or_path', 'tokenizer')}: no chat template")
    device = next(model.parameters()).device
    stops = end_of_turn_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]
    texts = []
    for p in prompts:
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": p}]
        texts.append(tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    ended, new_tokens = 0, 0
    for batch in _batches(texts, batch_size):
        enc = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in batch]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), pad, dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for i, e in enumerate(enc):  # left padding for generation
            ids[i, width - len(e):] = torch.tensor(e)
            mask[i, width - len(e):] = 1
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                             max_new_tokens=max_new_tokens, eos_token_id=stops, pad_token_id=pad)
        gen = out[:, width:].cpu()
        for row in gen:
            hit = [i for i, tok in enumerate(row.tolist()) if tok in stops]
            if hit:
                ended += 1
                new_tokens += hit[0] + 1
            else:
                new_tokens += len(row)
    return {"rate": ended / len(texts), "ended": ended, "n": len(texts), "mean_new_tokens": new_tokens / len(texts)}
