"""Throughput of the win-rate answer generation: batched, left-padded `generate` (what stage 06 uses)
against one prompt at a time, on the same model and the same prompts, measured side by side.

Model: a Llama stand-in of the docs/tiny-calibration.md size (hidden 128, 4 layers, ~1M parameters) with a
byte-level BPE trained on the fact bank, built in a temporary folder; prompts: 64 win-rate questions
through the chat template; greedy, 24 new tokens (min_new_tokens = 24, so every row generates the same count).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

N_PROMPTS = 64
MAX_NEW = 24
BATCH = 32


def run() -> dict:
    import torch

    from definemed.config import load_config
    from definemed.corpus import fact_bank
    from definemed.evaluation import generation as G
    from tests import factories as standin
    from definemed.evaluation.harness import load_model
    from definemed.evaluation.questions import winrate_questions

    torch.set_num_threads(1)  # see EvaluateConfig.torch_threads: 2 threads on a shared 2-core machine thrash
    cfg = load_config("tiny")
    bank = fact_bank(cfg)
    texts = [f.sentence(k) for f in bank.facts for k in range(5)]
    with tempfile.TemporaryDirectory() as d:
        folder = standin.build_model(Path(d) / "m", texts, "llama", hidden=128, layers=4, vocab_size=2000)
        model, tok = load_model(folder)
        qs = [q["question"] for q in winrate_questions(bank, cfg.seed, N_PROMPTS, cfg.evaluate.n_dev)]
        prompts = G.chat_prompts(tok, qs)
        G.generate_batched(model, tok, prompts[:4], 2, 4)  # warm-up
        sb, so = G.GenStats(), G.GenStats()
        # min_new_tokens: fixed-length answers (EOS suppressed), so both modes do the same work
        batched = G.generate_batched(model, tok, prompts, MAX_NEW, BATCH, stats=sb, min_new_tokens=MAX_NEW)
        single = G.generate_one_by_one(model, tok, prompts, MAX_NEW, stats=so, min_new_tokens=MAX_NEW)
        n_params = sum(p.numel() for p in model.parameters())
    return {
        "model_params": n_params,
        "prompts": len(prompts),
        "batch_size": BATCH,
        "new_tokens": sb.new_tokens,
        "batched_tokens_per_s": round(sb.tokens_per_s, 1),
        "one_by_one_tokens_per_s": round(so.tokens_per_s, 1),
        "speedup_batched_vs_one_by_one": round(sb.tokens_per_s / so.tokens_per_s, 2) if so.tokens_per_s else None,
        "identical_answers_share": round(sum(a == b for a, b in zip(batched, single)) / len(prompts), 3),
    }
