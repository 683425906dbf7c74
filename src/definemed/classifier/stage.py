"""Stage 02 end to end: data -> tokenizer/model -> Trainer with F-beta early stopping -> the model
folder -> scores of the held-out splits and the expert annotations -> operating point.

`run(cfg)` writes data/<profile>/02_classifier/:
- model/                  HF folder (XLMRobertaForSequenceClassification, safetensors, tokenizer)
- predictions.parquet     id, split (val/test/expert), label, score  (every table and figure reads this)
- training_log.json       the Trainer's log history (loss, eval F-beta per evaluation)
- operating_point.json    {threshold, precision, recall, fbeta} on the held-out LLM labels, plus CIs
                          and the same on the expert annotations under "expert"
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from definemed import artifacts, io
from definemed.classifier.data import load_classifier_data
from definemed.classifier.metrics import bootstrap_ci
from definemed.config import Config
from definemed.seed import set_seed

def _corpus_texts(corpus_dir: Path, n: int) -> list[str]:
    from definemed.corpus.loader import read_shard, shard_paths

    texts: list[str] = []
    for p in shard_paths(corpus_dir):
        texts.extend(read_shard(p, columns=["text"])["text"].to_pylist()[: n - len(texts)])
        if len(texts) >= n:
            break
    return texts


def _build(cfg: Config, corpus_dir: Path, tok_dir: Path):
    from definemed.classifier.model import pretrained_model, scratch_model, train_tokenizer

    c = cfg.classifier
    if c.init == "pretrained":
        return pretrained_model(c)
    tok = train_tokenizer(_corpus_texts(corpus_dir, c.tokenizer_docs), c.vocab_size, tok_dir)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tok_dir))  # the same loading path as the paper's tokenizer
    return tok, scratch_model(c, len(tok), cfg.seed)


def operating_point(pred: pd.DataFrame, cfg: Config) -> dict:
    """Precision / recall / F-beta at the threshold with bootstrap CIs: held-out LLM labels and experts."""
    c = cfg.classifier
    out = {}
    for name, split in (("test", "test"), ("expert", "expert"), ("val", "val")):
        d = pred[pred["split"] == split]
        if len(d):
            out[name] = bootstrap_ci(d["label"].to_numpy(), d["score"].to_numpy(), c.threshold, c.fbeta_beta,
                                     n_boot=c.n_bootstrap, seed=cfg.seed)
    top = {k: out["test"][k] for k in ("threshold", "precision", "recall", "fbeta")}
    top.update(beta=c.fbeta_beta, evaluated_on="held-out LLM labels (split test)", **out)
    return top


def run_classifier(cfg: Config, labels_file: Path | None = None, corpus_dir: Path | None = None) -> dict:
    """Train, save and evaluate the classifier of a profile; returns the summary (also summary.json)."""
    from definemed.classifier.inference import Scorer
    from definemed.classifier.train import clean_run_dir, fine_tune

    t0 = time.time()
    c = cfg.classifier
    set_seed(cfg.seed)
    corpus_dir = Path(corpus_dir) if corpus_dir else artifacts.stage_dir(cfg, artifacts.CORPUS)
    out = artifacts.stage_dir(cfg, artifacts.CLASSIFIER)
    out.mkdir(parents=True, exist_ok=True)
    labels, expert, counts = load_classifier_data(cfg, labels_file, corpus_dir)
    run_dir = out / "_run"
    clean_run_dir(run_dir)
    tokenizer, model = _build(cfg, corpus_dir, run_dir / "tokenizer")
    trainer, summary = fine_tune(model, tokenizer, labels, c, run_dir / "checkpoints", cfg.seed)
    with io.atomic_dir(artifacts.classifier_model(cfg), force=True) as tmp:
        trainer.save_model(str(tmp))  # the best checkpoint (load_best_model_at_end), safetensors
        (tmp / "training_args.bin").unlink(missing_ok=True)  # a pickle: never shipped, never loaded
    io.write_json(artifacts.classifier_training_log(cfg), trainer.state.log_history)
    clean_run_dir(run_dir)
    del trainer

    scorer = Scorer(artifacts.classifier_model(cfg), batch_size=c.batch_size, max_length=c.max_length,
                    torch_threads=c.torch_threads)
    parts = [labels[labels["split"].isin(["val", "test"])][["id", "split", "label", "text"]]]
    if len(expert):
        parts.append(expert.assign(split="expert")[["id", "split", "label", "text"]])
    pred = pd.concat(parts, ignore_index=True)
    pred["score"] = scorer.score(pred["text"].tolist())
    pred = pred.drop(columns="text")
    with io.atomic_path(artifacts.classifier_predictions(cfg), suffix=".parquet") as tmp:
        pq.write_table(pa.Table.from_pandas(pred.astype({"label": np.int8, "score": np.float32}), preserve_index=False), tmp)
    op = operating_point(pred, cfg)
    io.write_json(artifacts.classifier_operating_point(cfg), op)
    summary.update(counts)
    summary["wall_time_s"] = round(time.time() - t0, 1)
    io.write_json(artifacts.classifier_summary(cfg), summary)
    return summary


def run(ctx) -> dict:
    """Stage 02 (a `definemed.context.StageContext`; see the module docstring): the training summary."""
    return run_classifier(ctx.cfg, labels_file=ctx.input(artifacts.LABEL, "labels"),
                          corpus_dir=ctx.input_stage(artifacts.CORPUS))


def load_predictions(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(artifacts.classifier_predictions(cfg))
