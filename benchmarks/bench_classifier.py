"""Classifier inference and filter throughput (stage 02/03), measured side by side in one run.

1. Documents per second of our batched path (`Scorer`: length-sorted batches, background tokenization,
   inference_mode, the last layer for the first token only) against the strongest stock path a user
   would run: `transformers.pipeline("text-classification", batch_size=64)` given the same documents
   already sorted by length (so it pads as little as ours). Both in this process, float32, the same
   torch threads, model loading and a warm-up outside the timer; `common.REPEATS` alternating paired
   rounds with the 95 % interval of the ratio; the scores of both sides are compared (max |dP|).
   A third side, the `Scorer` with its first-token-only last layer switched off, shows what that
   feature alone buys (about 1/layers of the compute: most at 2 layers, little at 12).
   Two shapes (issue 31), two entries: `classifier` at the tiny profile's test shape (hidden 64,
   2 layers) and `classifier_base` (benchmarks/bench_classifier_base.py) at the paper's XLM-R base
   shape (hidden 768, 12 layers, 12 heads, FFN 3,072, vocabulary 250,002, randomly initialised: the
   speed does not depend on the weights), on fewer documents. Target: ours at least 1.5x.
2. End-to-end filter throughput (read shard, score, write kept documents and scores), documents/s.
3. The measured per-document cost (tokens after truncation, padding overhead of sorted batches) and
   the model's FLOPs give the GPU-hours to filter FineWeb2-de's 427.7M documents with
   xlm-roberta-base (assumptions in docs/filtering.md and in the returned dict).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from definemed.classifier.cost import config_flops_per_doc, encoder_flops_per_doc, gpu_hours  # noqa: F401
from definemed.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QUICK, paired, ratios, row, spread, stat  # noqa: E402

N_DOCS = 128 if QUICK else 1000  # documents scored by both sides at the test shape
BATCH = 64
TARGET_SPEEDUP = 1.5
FILTER_DOCS = 3000     # end-to-end filter corpus
MAX_LENGTH = 512       # XLM-R's limit, as in the paper profile: the length tail makes padding matter
# Assumptions of the GPU estimate (see docs/filtering.md)
FINEWEB_DOCS = 427.7e6
FINEWEB_WORDS = 234.8e9
XLMR_TOKENS_PER_WORD = 1.5     # XLM-R SentencePiece on German web text (assumed; measure on real data)
A100_BF16_PEAK = 312e12        # dense bf16 tensor-core peak, FLOP/s
MFU = (0.2, 0.4)               # model-FLOP utilisation of encoder inference, pessimistic / typical


TEST_SHAPE = {"name": "test", "overrides": {}, "vocab_size": None, "docs": N_DOCS}
XLMR_BASE_SHAPE = {"name": "xlmr_base",
                   "overrides": {"classifier.hidden_size": 768, "classifier.num_layers": 12, "classifier.num_heads": 12,
                                 "classifier.intermediate_size": 3072},
                   "vocab_size": 250_002, "docs": 64 if QUICK else 256}
"""xlm-roberta-base: 768 hidden, 12 layers, 12 heads, FFN 3,072, vocabulary 250,002 (its config.json)."""


def _model(root: Path, texts: list[str], cfg, vocab_size: int | None = None):
    """A scratch classifier with the tokenizer trained on the corpus; `vocab_size` (larger than the
    tokenizer's) sizes the embedding matrix like the real model's, the extra rows are never looked up."""
    from definemed.classifier.model import scratch_model, train_tokenizer

    c = cfg.classifier
    tok = train_tokenizer(texts, c.vocab_size, root / "model")
    scratch_model(c, max(len(tok), vocab_size or 0), cfg.seed).save_pretrained(str(root / "model"))
    return root / "model"


def run(shape: dict = TEST_SHAPE) -> dict:
    import torch
    from transformers import pipeline

    from definemed.classifier.inference import Scorer, length_sorted_batches
    from definemed.corpus.stage import build_corpus
    from definemed.corpus.loader import read_shard, shard_paths
    from definemed.filtering.filter import filter_corpus

    torch.set_num_threads(2)
    cfg = load_config("tiny", overrides={"corpus.n_docs": FILTER_DOCS, "corpus.shard_size": 1000, "corpus.expert_sample": 10,
                                        "classifier.max_length": MAX_LENGTH, **shape["overrides"]})
    c = cfg.classifier
    base_shape = shape is not TEST_SHAPE
    out: dict = {"shape": shape["name"],
                 "model": f"XLM-R scratch, hidden {c.hidden_size}, {c.num_layers} layers, max_length {c.max_length}"}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        build_corpus(cfg, root / "corpus")
        texts = [t for p in shard_paths(root / "corpus") for t in read_shard(p, ["text"])["text"].to_pylist()]
        model_dir = _model(root, texts[:2000], cfg, shape["vocab_size"])
        docs = texts[:shape["docs"]]
        words = np.array([len(t.split()) for t in texts], dtype=np.float64)
        scorer = Scorer(model_dir, batch_size=BATCH, max_length=c.max_length, torch_threads=2)
        clf = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)
        kw = {"truncation": True, "max_length": c.max_length, "top_k": None, "batch_size": BATCH}
        by_length = sorted(range(len(docs)), key=lambda i: -len(docs[i]))  # what Scorer does, given to both
        sorted_docs = [docs[i] for i in by_length]
        scorer.score(docs[:64])  # warm-up
        clf(sorted_docs[:64], **kw)
        scores: dict[str, np.ndarray] = {}

        def ours_side() -> dict:
            t0 = time.perf_counter()
            scores["ours"] = scorer.score(docs)
            return {"seconds": time.perf_counter() - t0}

        def full_last_layer_side() -> dict:  # the Scorer without its first-token-only last layer
            saved, scorer.cls_only = scorer.cls_only, False
            try:
                t0 = time.perf_counter()
                scores["ours_full"] = scorer.score(docs)
                return {"seconds": time.perf_counter() - t0}
            finally:
                scorer.cls_only = saved

        def pipeline_side() -> dict:
            t0 = time.perf_counter()
            res = clf(sorted_docs, **kw)
            dt = time.perf_counter() - t0
            p = np.zeros(len(docs), np.float32)
            p[by_length] = [next(x["score"] for x in r if x["label"] == "medical") for r in res]
            scores["pipeline"] = p
            return {"seconds": dt}

        runs = paired({"pipeline": pipeline_side, "ours": ours_side, "ours_full_last_layer": full_last_layer_side})
        speed = ratios(runs["pipeline"], runs["ours"], "seconds")
        cls_gain = ratios(runs["ours_full_last_layer"], runs["ours"], "seconds")
        rest_gain = ratios(runs["pipeline"], runs["ours_full_last_layer"], "seconds")
        dp = float(np.abs(scores["pipeline"] - scores["ours"]).max())
        dp_full = float(np.abs(scores["pipeline"] - scores["ours_full"]).max())
        o_dps = len(docs) / stat([r["seconds"] for r in runs["ours"]])["median"]
        p_dps = len(docs) / stat([r["seconds"] for r in runs["pipeline"]])["median"]
        met = bool(speed["median"] >= TARGET_SPEEDUP and dp < 1e-4)
        shape_txt = (f"the XLM-R base shape (hidden {c.hidden_size}, {c.num_layers} layers, vocabulary "
                     f"{scorer.model.config.vocab_size:,})" if base_shape else
                     f"the test shape (hidden {c.hidden_size}, {c.num_layers} layers)")
        out.update(
            docs=len(docs), batch_size=BATCH, ours_docs_per_s=round(o_dps, 1), pipeline_docs_per_s=round(p_dps, 1),
            vocab_size=scorer.model.config.vocab_size, hidden_size=c.hidden_size, num_layers=c.num_layers,
            speedup=speed, speedup_first_token_last_layer=cls_gain, speedup_without_it=rest_gain,
            max_abs_score_diff=dp, max_abs_score_diff_full_last_layer=dp_full, cls_only_last_layer=scorer.cls_only,
            target_speedup=TARGET_SPEEDUP, meets_target=met,
            row=row(f"P(medical) of {len(docs):,} documents at {shape_txt}, max_length {c.max_length}, float32, "
                    "in-process",
                    f"`pipeline(batch_size={BATCH})` on length-sorted documents: {p_dps:.1f} docs/s",
                    f"`Scorer`: {o_dps:.1f} docs/s; without the first-token-only last layer "
                    f"{cls_gain['median']:.2f}x slower",
                    f"{spread(speed, '.2f', 'x')} faster", f"same documents; max abs ΔP {dp:.0e}",
                    f"≥ {TARGET_SPEEDUP:g}x at equal scores" + ("" if met else f" (missed: {speed['median']:.2f}x)"),
                    met),
            prose=(f"Scoring {len(docs):,} documents at {shape_txt} with max_length {c.max_length} (float32, the same "
                   f"torch threads), our `Scorer` reached {o_dps:.1f} documents/s and `pipeline(\"text-classification\", "
                   f"batch_size={BATCH})` on the same documents sorted by length {p_dps:.1f}: "
                   f"{spread(speed, '.2f', 'x')} faster, largest difference of P(medical) {dp:.0e}. Computing the last "
                   f"layer for the first token only accounts for {spread(cls_gain, '.2f', 'x')} of it (it saves about "
                   f"1/{c.num_layers} of the compute); the rest, tokenization in a background thread and no pipeline "
                   f"overhead, {rest_gain['median']:.2f}x (target ≥ {TARGET_SPEEDUP:g}x: {'met' if met else 'missed'})."),
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
                   achieved_cpu_gflops=round(flops_doc * o_dps / 1e9, 2))

        if base_shape:  # the end-to-end filter and the GPU estimate: once, in the test-shape entry
            return out

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
