"""Throughput of the win-rate answer generation: batched, left-padded `generate` (what stage 06 uses)
against one prompt at a time, on the same model and the same prompts, measured side by side.

Model: a Llama stand-in of the docs/tiny-calibration.md size (hidden 128, 4 layers, ~1M parameters) with a
byte-level BPE trained on the fact bank, built in a temporary folder; prompts: 64 win-rate questions
through the chat template; greedy, 24 new tokens (min_new_tokens = 24, so every row generates the same count).
In-process on both sides, 1 torch thread, a warm-up first; 3 alternating paired rounds; the new tokens
of both sides and the share of identical answers are printed.
"""
from __future__ import annotations

import tempfile
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import paired, ratios, row, spread  # noqa: E402

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
        answers: dict[str, list[str]] = {}

        def side(name: str) -> dict:
            st = G.GenStats()
            # min_new_tokens: fixed-length answers (EOS suppressed), so both modes do the same work
            if name == "batched":
                answers[name] = G.generate_batched(model, tok, prompts, MAX_NEW, BATCH, stats=st, min_new_tokens=MAX_NEW)
            else:
                answers[name] = G.generate_one_by_one(model, tok, prompts, MAX_NEW, stats=st, min_new_tokens=MAX_NEW)
            return {"tokens_per_s": st.tokens_per_s, "new_tokens": st.new_tokens}

        runs = paired({"one_by_one": lambda: side("one_by_one"), "batched": lambda: side("batched")})
        n_params = sum(p.numel() for p in model.parameters())
    b_, o_ = runs["batched"], runs["one_by_one"]
    speed = ratios(o_, b_, "tokens_per_s", higher_is_better=True)
    same_tokens = len({r["new_tokens"] for v in runs.values() for r in v}) == 1
    identical = sum(a == b for a, b in zip(answers["batched"], answers["one_by_one"])) / len(prompts)
    bt = sorted(r["tokens_per_s"] for r in b_)[1]
    ot = sorted(r["tokens_per_s"] for r in o_)[1]
    return {
        "model_params": n_params, "prompts": len(prompts), "batch_size": BATCH, "new_tokens": b_[0]["new_tokens"],
        "same_new_tokens": same_tokens, "batched_tokens_per_s": round(bt, 1), "one_by_one_tokens_per_s": round(ot, 1),
        "speedup": speed, "identical_answers_share": round(identical, 3),
        "row": row(f"greedy answers to {len(prompts)} win-rate prompts, {MAX_NEW} new tokens each, Llama stand-in "
                   f"({n_params / 1e6:.1f}M parameters), in-process",
                   f"one prompt at a time: {ot:,.0f} tokens/s", f"batched ({BATCH}), left-padded: {bt:,.0f} tokens/s",
                   f"{spread(speed, '.2f', 'x')} faster",
                   f"same {b_[0]['new_tokens']:,} new tokens: {'yes' if same_tokens else 'NO'}; identical answers "
                   f"{identical:.0%}", "", None),
        "prose": (f"Batched, left-padded generation (batch {BATCH}) produced {bt:,.0f} new tokens/s against {ot:,.0f} one "
                  f"prompt at a time ({len(prompts)} prompts, {MAX_NEW} tokens each, {b_[0]['new_tokens']:,} tokens on both "
                  f"sides): {spread(speed, '.2f', 'x')}; {identical:.0%} of the answers are identical."),
    }
