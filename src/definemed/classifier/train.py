"""Fine-tuning with the transformers Trainer: evaluation every `eval_steps` on the validation split,
F-beta at the decision threshold as the metric for the best model, early stopping on it, and the
best checkpoint loaded at the end (`load_best_model_at_end`)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from definemed.classifier.metrics import at_threshold
from definemed.config import ClassifierConfig

METRIC = "fbeta"


class TokenizedDataset:
    """A list of tokenized documents with labels (torch map-style dataset protocol)."""

    def __init__(self, tokenizer, texts: list[str], labels: list[int], max_length: int):
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        self.items = [{"input_ids": ids, "attention_mask": am, "labels": int(y)}
                      for ids, am, y in zip(enc["input_ids"], enc["attention_mask"], labels)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def positive_probability(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e[:, 1] / e.sum(axis=1)).astype(np.float32)


def make_compute_metrics(threshold: float, beta: float) -> Callable:
    """Trainer `compute_metrics`: precision, recall and F-beta of P(medical) >= threshold."""

    def compute(eval_pred) -> dict:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        logits = logits[0] if isinstance(logits, tuple) else logits
        m = at_threshold(labels, positive_probability(np.asarray(logits)), threshold, beta)
        return {METRIC: m["fbeta"], "precision": m["precision"], "recall": m["recall"]}

    return compute


def training_arguments(c: ClassifierConfig, run_dir: Path, seed: int, **overrides):
    import torch
    from transformers import TrainingArguments

    gpu_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()  # paper profile on A100s

    kw = dict(
        output_dir=str(run_dir), num_train_epochs=c.epochs, learning_rate=c.learning_rate,
        weight_decay=c.weight_decay, warmup_steps=c.warmup_steps, lr_scheduler_type="linear",
        per_device_train_batch_size=c.batch_size, per_device_eval_batch_size=max(c.batch_size, 64),
        eval_strategy="steps", eval_steps=c.eval_steps, save_strategy="steps", save_steps=c.eval_steps,
        logging_strategy="steps", logging_steps=max(1, c.eval_steps // 2),
        metric_for_best_model=METRIC, greater_is_better=True, load_best_model_at_end=True,
        save_total_limit=2,  # the best and the latest checkpoint survive
        save_only_model=True, seed=seed, data_seed=seed, report_to="none", disable_tqdm=True,
        dataloader_num_workers=0, dataloader_pin_memory=False, train_sampling_strategy="group_by_length",
        bf16=gpu_bf16,
    )
    kw.update(overrides)
    return TrainingArguments(**kw)


def build_trainer(model, tokenizer, train_ds, eval_ds, args, patience: int, compute_metrics: Callable):
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, PrinterCallback, Trainer

    from definemed.progress import in_notebook

    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=patience)],
    )
    if in_notebook():  # with disable_tqdm the Trainer prints every log dict; the notebook shows training_log.json
        trainer.remove_callback(PrinterCallback)
    return trainer


def fine_tune(model, tokenizer, labels: pd.DataFrame, c: ClassifierConfig, run_dir: Path, seed: int) -> tuple:
    """Train on split == 'train', early-stop on F-beta of split == 'val'. Returns (trainer, summary)."""
    import torch

    torch.set_num_threads(c.torch_threads)
    tr, va = labels[labels["split"] == "train"], labels[labels["split"] == "val"]
    train_ds = TokenizedDataset(tokenizer, tr["text"].tolist(), tr["label"].tolist(), c.max_length)
    eval_ds = TokenizedDataset(tokenizer, va["text"].tolist(), va["label"].tolist(), c.max_length)
    args = training_arguments(c, run_dir, seed)
    trainer = build_trainer(model, tokenizer, train_ds, eval_ds, args, c.patience,
                            make_compute_metrics(c.threshold, c.fbeta_beta))
    result = trainer.train()
    st = trainer.state
    evals = [h for h in st.log_history if f"eval_{METRIC}" in h]
    summary = {
        "best_step": int(Path(st.best_model_checkpoint).name.split("-")[-1]) if st.best_model_checkpoint else None,
        "best_val_fbeta": float(st.best_metric) if st.best_metric is not None else None,
        "steps": int(st.global_step), "max_steps": int(st.max_steps), "epochs_run": float(st.epoch or 0),
        "stopped_early": bool(st.global_step < st.max_steps), "n_evaluations": len(evals),
        "train_runtime_s": float(result.metrics.get("train_runtime", 0.0)),
        "n_params": int(sum(p.numel() for p in model.parameters())),
    }
    return trainer, summary


def clean_run_dir(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
