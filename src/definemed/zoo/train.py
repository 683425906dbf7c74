"""The zoo's training helper: one process, a plain torch loop, AdamW with warmup and cosine decay.

Stage 04 has its own FSDP loop; this one only has to pretrain and instruction-tune ~1-4M-parameter
models on a CPU, reproducibly (same seed and thread count -> same weights).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from definemed.progress import tqdm

IGNORE = -100


def cosine_lr(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Linear warmup to `peak`, then cosine decay to `min_ratio * peak` at `total`."""
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class StreamBatches:
    """Random windows of `seq_len` tokens from token streams, drawn by mixture weight (pretraining)."""

    def __init__(self, streams: list[np.ndarray], weights: list[float], seq_len: int, batch_size: int,
                 rng: np.random.Generator):
        self.streams = [s for s in streams]
        for s in self.streams:
            if len(s) <= seq_len:
                raise ValueError(f"token stream of {len(s)} tokens is shorter than seq_len {seq_len}")
        w = np.asarray(weights, dtype=float)
        self.p = w / w.sum()
        self.seq_len, self.batch_size, self.rng = seq_len, batch_size, rng
        self.drawn = np.zeros(len(streams), dtype=np.int64)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        which = self.rng.choice(len(self.streams), size=self.batch_size, p=self.p)
        rows = []
        for k in which:
            s = self.streams[k]
            o = int(self.rng.integers(0, len(s) - self.seq_len))
            rows.append(s[o:o + self.seq_len])
            self.drawn[k] += 1
        x = torch.from_numpy(np.stack(rows).astype(np.int64))
        return x, x.clone()


def pack_examples(examples: list[tuple[list[int], list[bool]]], seq_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack (ids, loss_mask) examples greedily into rows of `seq_len` without splitting any; pad the
    rest of a row (label IGNORE). Returns (ids, labels) arrays of shape (rows, seq_len)."""
    rows_ids, rows_lab = [], []
    cur_ids: list[int] = []
    cur_lab: list[int] = []
    for ids, mask in examples:
        ids, mask = ids[:seq_len], mask[:seq_len]
        if len(cur_ids) + len(ids) > seq_len:
            rows_ids.append(cur_ids + [pad_id] * (seq_len - len(cur_ids)))
            rows_lab.append(cur_lab + [IGNORE] * (seq_len - len(cur_lab)))
            cur_ids, cur_lab = [], []
        cur_ids += ids
        cur_lab += [i if m else IGNORE for i, m in zip(ids, mask)]
    if cur_ids:
        rows_ids.append(cur_ids + [pad_id] * (seq_len - len(cur_ids)))
        rows_lab.append(cur_lab + [IGNORE] * (seq_len - len(cur_lab)))
    return np.asarray(rows_ids, dtype=np.int64), np.asarray(rows_lab, dtype=np.int64)


class PackedBatches:
    """Batches of packed rows, reshuffled every epoch (instruction tuning)."""

    def __init__(self, ids: np.ndarray, labels: np.ndarray, batch_size: int, rng: np.random.Generator):
        self.ids, self.labels, self.batch_size, self.rng = ids, labels, batch_size, rng
        self.order: list[int] = []
        self.epochs = 0

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        take = []
        while len(take) < self.batch_size:
            if not self.order:
                self.order = self.rng.permutation(len(self.ids)).tolist()
                self.epochs += 1
            take.append(self.order.pop())
        return torch.from_numpy(self.ids[take]), torch.from_numpy(self.labels[take])


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    tokens: int = 0
    """Tokens the model read (inputs, including padding)."""
    loss_tokens: int = 0
    """Tokens that carried a loss."""
    wall_s: float = 0.0

    @property
    def final_loss(self) -> float:
        tail = self.losses[-10:]
        return float(sum(tail) / len(tail)) if tail else float("nan")


def train(model, batches, steps: int, lr: float, warmup: int, min_lr_ratio: float, weight_decay: float,
          desc: str = "train", clip: float = 1.0) -> TrainResult:
    """Run `steps` optimizer steps on `batches(step) -> (input_ids, labels)`; return the loss curve."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95), eps=1e-8)
    model.train()
    res = TrainResult()
    t0 = time.time()
    bar = tqdm(range(steps), desc=desc, unit="step", leave=False)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, steps, lr, warmup, min_lr_ratio)
        x, y = batches(step)
        out = model(input_ids=x, labels=y)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = float(out.loss.detach())
        res.losses.append(round(loss, 6))
        res.tokens += x.numel()
        res.loss_tokens += int((y[:, 1:] != IGNORE).sum())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")
    res.steps = steps
    res.wall_s = time.time() - t0
    model.eval()
    return res
