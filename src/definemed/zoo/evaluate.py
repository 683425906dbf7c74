"""Measurements of a zoo model: perplexity, fact-bank cloze accuracy, chat format rate.

These are sanity measures of the foundations (stage 06 does the study's evaluation): the small
models should be near chance on the fact bank, the reference lower in medical perplexity and above
chance on the facts it has seen, and every instruct model should answer chat prompts in format.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from definemed.corpus.factbank import RELATIONS, Fact, FactBank

GERMAN_WORDS = {"der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "ist", "sind", "und",
                "oder", "mit", "bei", "von", "vor", "für", "auf", "im", "in", "zu", "zur", "zum", "nicht",
                "wird", "werden", "sich", "als", "auch", "allem", "viele", "oft", "durch", "über", "unter"}
ENGLISH_WORDS = {"the", "is", "are", "and", "or", "with", "of", "for", "on", "to", "not", "be", "this",
                 "that", "by", "as", "it", "was", "from", "at"}
_WORD = re.compile(r"[A-Za-zÄÖÜäöüß]+")


def is_german(text: str) -> bool:
    """A simple check: at least two words, at least one German function word, more German than
    English function words."""
    words = [w.lower() for w in _WORD.findall(text)]
    de = sum(w in GERMAN_WORDS for w in words)
    en = sum(w in ENGLISH_WORDS for w in words)
    return len(words) >= 2 and de >= 1 and de > en


@torch.no_grad()
def perplexity(model, stream: np.ndarray, seq_len: int, max_tokens: int, batch_size: int = 16) -> float:
    """exp(mean next-token NLL) over consecutive windows of a held-out token stream."""
    n = min(len(stream), max_tokens)
    n_win = max(1, (n - 1) // seq_len)
    wins = [stream[i * seq_len:(i + 1) * seq_len + 1] for i in range(n_win)]
    wins = [w for w in wins if len(w) == seq_len + 1]
    if not wins:
        return float("nan")
    nll, count = 0.0, 0
    for b in range(0, len(wins), batch_size):
        x = torch.from_numpy(np.stack(wins[b:b + batch_size]).astype(np.int64))
        logits = model(input_ids=x[:, :-1]).logits.float()
        lp = torch.log_softmax(logits, -1).gather(-1, x[:, 1:, None])[..., 0]
        nll -= float(lp.sum())
        count += lp.numel()
    return math.exp(nll / max(1, count))


def cloze_items(bank: FactBank, seed_rng: np.random.Generator, phrasings=(0, 1)) -> list[dict]:
    """Held-out sentence cloze: the held-out phrasing cut before the object; the answer and three
    distractors of the same type."""
    items = []
    for f in bank.facts:
        pool = f.distractor_pool(bank)
        distractors = [pool[i] for i in seed_rng.choice(len(pool), size=3, replace=False)]
        for k in phrasings:
            tpl = RELATIONS[f.relation].heldout[k]
            prefix = tpl.split("{o}")[0].format(s=f.subject).rstrip()
            prefix = prefix[0].upper() + prefix[1:]
            items.append({"fact_id": f.fact_id, "phrasing": k, "prefix": prefix,
                          "options": [f.object] + distractors})
    return items


@torch.no_grad()
def cloze_accuracy(model, tok, items: list[dict], add_bos: bool, batch_size: int = 128) -> np.ndarray:
    """Per item: 1 if the answer (option 0) has the highest summed log-likelihood as continuation."""
    seqs, spans = [], []
    for it in items:
        p = tok.encode(it["prefix"], add_special_tokens=add_bos).ids
        for o in it["options"]:
            full = tok.encode(it["prefix"] + " " + o, add_special_tokens=add_bos).ids
            if full[:len(p)] != p:  # tokenization merged across the boundary: score from the divergence
                k = next(i for i, (a, b) in enumerate(zip(p, full)) if a != b)
            else:
                k = len(p)
            seqs.append(full)
            spans.append((k, len(full)))
    scores = np.zeros(len(seqs))
    for b in range(0, len(seqs), batch_size):
        chunk = seqs[b:b + batch_size]
        L = max(map(len, chunk))
        x = torch.zeros((len(chunk), L), dtype=torch.long)
        m = torch.zeros((len(chunk), L - 1))
        for i, s in enumerate(chunk):
            x[i, :len(s)] = torch.tensor(s)
            k, e = spans[b + i]
            m[i, k - 1:e - 1] = 1.0  # logits at t predict token t + 1
        lp = torch.log_softmax(model(input_ids=x).logits[:, :-1].float(), -1).gather(-1, x[:, 1:, None])[..., 0]
        scores[b:b + len(chunk)] = (lp * m).sum(1).numpy()
    n_opt = len(items[0]["options"]) if items else 4
    return (scores.reshape(len(items), n_opt).argmax(1) == 0).astype(float)


@torch.no_grad()
def chat_answers(model, hf_tok, prompts: list[str], max_new_tokens: int, eos_ids: list[int],
                 batch_size: int = 32) -> list[dict]:
    """Greedy answers to single-turn chat prompts; whether each ended with an end-of-turn token."""
    out = []
    hf_tok.padding_side = "left"
    for b in range(0, len(prompts), batch_size):
        texts = [hf_tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                            add_generation_prompt=True) for p in prompts[b:b + batch_size]]
        enc = hf_tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos_ids,
                             pad_token_id=hf_tok.pad_token_id)
        for p, g in zip(prompts[b:b + batch_size], gen[:, enc["input_ids"].shape[1]:].tolist()):
            stop = next((i for i, t in enumerate(g) if t in eos_ids), None)
            ids = g if stop is None else g[:stop]
            text = hf_tok.decode(ids, skip_special_tokens=True).strip()
            out.append({"prompt": p, "answer": text, "stopped": stop is not None,
                        "n_tokens": len(ids), "german": is_german(text)})
    return out


def format_rate(answers: list[dict]) -> float:
    """Share of answers that stopped with end of turn within the budget and are German."""
    return float(np.mean([a["stopped"] and a["german"] for a in answers])) if answers else float("nan")


def facts_seen(docs: list[tuple[str, str, list[int]]]) -> dict[int, int]:
    """fact_id -> number of statements in the given medical documents."""
    seen: dict[int, int] = {}
    for _, _, ids in docs:
        for i in ids:
            seen[i] = seen.get(i, 0) + 1
    return seen


def accuracy_by(items: list[dict], correct: np.ndarray, facts: list[Fact], seen: set[int] | None = None) -> dict:
    acc = {"all": float(correct.mean())}
    if seen is not None:
        m = np.array([it["fact_id"] in seen for it in items])
        acc["seen"] = float(correct[m].mean()) if m.any() else float("nan")
        acc["unseen"] = float(correct[~m].mean()) if (~m).any() else float("nan")
    return acc




def chat_quality(answers: list[dict], questions: list[dict], n_boot: int, seed: int, stream: str) -> dict:
    """What a reader checks in answers to fact questions, with 95 % bootstrap intervals over questions:
    copy (names the asked entity), relation (states an object of the asked relation, right or wrong),
    gold (states the gold object and no other of its kind), in_format (stage 06's rule). The rules are
    stage 06's (`evaluation.quality`), so the zoo's gate and the evaluation count alike."""
    from definemed.evaluation.quality import in_format, names_entity, stated_object, states_gold
    from definemed.numerics import mean_ci

    rows = [(a, q) for a, q in zip(answers, questions) if q.get("subject")]
    if not rows:
        return {}
    cols = {
        "copy": [names_entity(a["answer"], q["subject"]) for a, q in rows],
        "relation": [stated_object(a["answer"], [q["reference"], *q["pool"]]) is not None for a, q in rows],
        "gold": [states_gold(a["answer"], q["reference"], list(q["pool"])) for a, q in rows],
        "in_format": [in_format(a["answer"], a["stopped"]) for a, q in rows],
    }
    out: dict = {"n": len(rows)}
    for k, v in cols.items():
        x = np.asarray(v, dtype=float)
        lo, hi = mean_ci(x, n_boot, seed, stream, k)
        out[k] = float(x.mean())
        out[f"{k}_ci95"] = [lo, hi]
    return out


def general_items(seed: int, n: int) -> list[dict]:
    """Stage 06's general-knowledge questions (`evaluation.questions.general_set`) as cloze items: the
    question, then each option as its continuation."""
    from definemed.evaluation.questions import general_set

    qs = general_set(seed, n, 0)
    return [{"fact_id": -1, "phrasing": 0, "prefix": it["question"],
             "options": [it["choices"][it["answer"]]] + [c for i, c in enumerate(it["choices"]) if i != it["answer"]]}
            for it in qs.test]
