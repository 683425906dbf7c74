"""Classifier inference and filter throughput (stage 02/03), measured side by side in one run.

1. Documents per second of our batched path (`Scorer`: length-sorted batches, background tokenization,
   inference_mode) against a plain `transformers.pipeline("text-classification")` (its defaults:
   one document per call) on the same model and the same documents; also the pipeline given the
   same batch size (no sorting), to show where the gain comes from. Aim: >= 3x over the plain pipeline.
2. End-to-end filter throughput (read shard, score, write kept documents and scores), documents/s.
3. The measured per-document cost (tokens after truncation, padding overhead of sorted batches) and
   the model's FLOPs give the GPU-hours to filter FineWeb2-de's 427.7M documents with
   xlm-roberta-base (assumptions in docs/filtering.md and in the returned dict).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from definemed.classifier.cost import config_flops_per_doc, encoder_flops_per_doc, gpu_hours  # noqa: F401
from definemed.config import load_config

N_DOCS = 1000          # documents scored by our path
N_PIPELINE = 200       # the plain pipeline is slow: it scores the first 200 of them, docs/s is compared
FILTER_DOCS = 3000     # end-to-end filter corpus
MAX_LENGTH = 512       # XLM-R's limit, as in the paper profile: the length tail makes padding matter
# Assumptions of the GPU estimate (see docs/filtering.md)
FINEWEB_DOCS = 427.7e6
FINEWEB_WORDS = 234.8e9
XLMR_TOKENS_PER_WORD = 1.5     # XLM-R SentencePiece on German web text (assumed; measure on real data)
A100_BF16_PEAK = 312e12        # dense bf16 tensor-core peak, FLOP/s
MFU = (0.2, 0.4)               # model-FLOP utilisation of encoder inference, pessimistic / typical


def _model(root: Path, texts: list[str], cfg):
    from definemed.classifier.model import scratch_model, train_tokenizer

    c = cfg.classifier
    tok = train_tokenizer(texts, c.vocab_size, root / "model")
    scratch_model(c, len(tok), cfg.seed).save_pretrained(str(root / "model"))
    return root / "model"


def run() -> dict:
    import torch
    from transformers import pipeline

    from definemed.classifier.inference import Scorer, length_sorted_batches
    from definemed.corpus import build_corpus
    from definemed.corpus.loader import read_shard, shard_paths
    from definemed.filtering.filter import filter_corpus

    torch.set_num_threads(2)
    cfg = load_config("tiny", overrides={"corpus.n_docs": FILTER_DOCS, "corpus.shard_size": 1000, "corpus.expert_sample": 10,
                                        "classifier.max_length": MAX_LENGTH})
    c = cfg.classifier
    out: dict = {"model": f"XLM-R scratch, hidden {c.hidden_size}, {c.num_layers} layers, max_length {c.max_length}"}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        build_corpus(cfg, out_dir=root / "corpus")
        texts = [t for p in shard_paths(root / "corpus") for t in read_shard(p, ["text"])["text"].to_pylist()]
        model_dir = _model(root, texts[:2000], cfg)
        docs = texts[:N_DOCS]
        words = np.array([len(t.split()) for t in texts], dtype=np.float64)
        scorer = Scorer(model_dir, batch_size=cfg.filter.batch_size, max_length=c.max_length, torch_threads=2)
        scorer.score(docs[:64])  # warm-up
        t0 = time.perf_counter()
        ours = scorer.score(docs)
        ours_dps = len(docs) / (time.perf_counter() - t0)

        clf = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)
        kw = {"truncation": True, "max_length": c.max_length, "top_k": None}
        clf(docs[:8], **kw)  # warm-up
        sub = docs[:N_PIPELINE]
        t0 = time.perf_counter()
        plain = clf(sub, **kw)
        plain_dps = len(sub) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        clf(sub, batch_size=cfg.filter.batch_size, **kw)
        batched_pipe_dps = len(sub) / (time.perf_counter() - t0)
        p_med = np.array([next(x["score"] for x in r if x["label"] == "medical") for r in plain], dtype=np.float32)
        out.update(
            ours_docs_per_s=round(ours_dps, 1), pipeline_docs_per_s=round(plain_dps, 1),
            pipeline_batched_unsorted_docs_per_s=round(batched_pipe_dps, 1),
            speedup_vs_pipeline=round(ours_dps / plain_dps, 2),
            speedup_vs_batched_pipeline=round(ours_dps / batched_pipe_dps, 2),
            meets_3x=bool(ours_dps / plain_dps >= 3),
            max_abs_score_diff_vs_pipeline=float(np.abs(p_med - ours[:N_PIPELINE]).max()),
        )

        # measured per-document cost: tokens after truncation, padding with and without length sorting
        enc = scorer.tokenizer(docs, truncation=True, max_length=c.max_length)
        lens = np.array([len(x) for x in enc["input_ids"]])
        bs = cfg.filter.batch_size
        padded_sorted = sum(len(b) * lens[b].max() for b in length_sorted_batches(lens, bs))
        padded_random = sum(len(b) * lens[b].max() for b in np.array_split(np.arange(len(lens)), -(-len(lens) // bs)))
        flops_doc = config_flops_per_doc(scorer.model.config, lens.mean())
        out.update(tokens_per_doc=round(float(lens.mean()), 1),
                   padding_overhead_sorted=round(float(padded_sorted / lens.sum() - 1), 3),
                   padding_overhead_unsorted=round(float(padded_random / lens.sum() - 1), 3),
                   model_gflops_per_doc=round(flops_doc / 1e9, 4),
                   achieved_cpu_gflops=round(flops_doc * ours_dps / 1e9, 2))

        # end to end: read, score, write
        t0 = time.perf_counter()
        st = filter_corpus(cfg, corpus_dir=root / "corpus", out_dir=root / "filtered", model_dir=model_dir,
                           scorer=scorer, threshold=c.threshold)
        out.update(filter_docs=st["n_docs"], filter_docs_per_s=round(st["n_docs"] / (time.perf_counter() - t0), 1))

    # GPU-hours for xlm-roberta-base over FineWeb2-de (427.7M documents, 549 words each on average).
    # Upper bound: every document fills 512 tokens. Length-aware: our corpus's document-length shape
    # rescaled to FineWeb2-de's mean of 549 words, 1.5 tokens per word, truncated at 512, plus the
    # measured padding overhead of length-sorted batches.
    mean_words = FINEWEB_WORDS / FINEWEB_DOCS
    scaled = np.minimum(MAX_LENGTH, words / words.mean() * mean_words * XLMR_TOKENS_PER_WORD)
    tok_aware = float(scaled.mean()) * (1 + out["padding_overhead_sorted"])
    for name, tokens in (("upper_bound_512", float(MAX_LENGTH)), ("length_aware", tok_aware)):
        f = float(encoder_flops_per_doc(768, 12, 3072, tokens))
        out[f"xlmr_base_{name}_tokens_per_doc"] = round(tokens, 1)
        out[f"xlmr_base_{name}_gflops_per_doc"] = round(f / 1e9, 1)
        for mfu in MFU:
            out[f"xlmr_base_{name}_a100_hours_mfu{int(mfu * 100)}"] = round(gpu_hours(FINEWEB_DOCS, f, A100_BF16_PEAK, mfu), 1)
    return out
