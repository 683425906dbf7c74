"""The training loop of one rank (run under torchrun; see `definemed.training.launch`).

Per optimizer step, every rank runs `global_batch / (world * micro_batch)` micro batches of packed
sequences with gradient accumulation (gradient sync only on the last one). The loss of each micro
batch is its summed token cross-entropy divided by the number of label tokens of the whole global
batch (counted before the step and all-reduced), times the world size because FSDP averages
gradients over ranks: every label token of the step then weighs the same, whatever rank or sequence
it sits in, and the result equals one big batch on one process.
"""
from __future__ import annotations

import json
import math
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from definemed.errors import DefinemedError
from definemed.packing import IGNORE_INDEX, PackedDataset, PackingPlan, TokenFile
from definemed.training import checkpoint as ckpt_lib
from definemed.training.flops import flops_per_token, mfu, peak_flops
from definemed.training.spec import RunSpec


def causal_lm_loss(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token cross-entropy and the number of label tokens of a packed batch.

    No attention_mask and use_cache=False: transformers then derives a block-causal mask from the
    restarting position_ids, so no token attends across a document boundary.
    """
    out = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False)
    logits = out.logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, (labels != IGNORE_INDEX).sum()


def lr_lambda(warmup: int, total: int, min_ratio: float):
    """Linear warmup from lr/warmup to lr, then cosine decay to min_ratio * lr at the last step."""

    def f(step: int) -> float:  # step = optimizer steps done so far (0-based for the next step)
        if warmup and step < warmup:
            return (step + 1) / warmup
        span = max(1, total - warmup - 1)
        progress = min(1.0, (step - warmup) / span)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


class SequenceOrder:
    """Global sequence g -> plan bin: epoch e = g // num_bins visits the bins in a seeded permutation
    of its own, so the data cursor (sequences consumed) fully determines the data that follows."""

    def __init__(self, num_bins: int, seed: int):
        self.n, self.seed, self._perm = num_bins, seed, {}

    def __call__(self, g: int) -> int:
        e = g // self.n
        if e not in self._perm:
            self._perm = {e: np.random.default_rng([self.seed, e]).permutation(self.n)}
        return int(self._perm[e][g % self.n])


def _device() -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def init_distributed(spec: RunSpec):
    """Process group (NCCL on GPU, gloo on CPU) and the 1-D FSDP or 2-D HSDP device mesh."""
    from torch.distributed.device_mesh import init_device_mesh

    world = int(os.environ.get("WORLD_SIZE", "0"))
    if world < 1 or "RANK" not in os.environ:
        raise DefinemedError("WORLD_SIZE/RANK: not set; launch with torchrun (definemed.training.launch)")
    spec.check_world(world)  # before the process group: a bad mesh is an error, not a hang
    device = _device()
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    if spec.dp_replicate > 1:
        mesh = init_device_mesh(device.type, (spec.dp_replicate, world // spec.dp_replicate),
                                mesh_dim_names=("dp_replicate", "dp_shard"))
    else:
        mesh = init_device_mesh(device.type, (world,), mesh_dim_names=("dp_shard",))
    return device, mesh


def _batch(ds: PackedDataset, bins: list[int], device) -> dict:
    items = [ds[b] for b in bins]
    return {k: torch.from_numpy(np.stack([it[k] for it in items])).to(device)
            for k in ("input_ids", "position_ids", "labels")}


def train(spec_path: str | Path) -> dict:
    spec = RunSpec.read(spec_path)
    from definemed.seed import set_seed
    from definemed.training.model import build_model, count_params, param_shapes

    torch.set_num_threads(spec.torch_threads)
    run = spec.run_dir
    ckpt_root = run / "checkpoints"
    plan = PackingPlan.load(spec.plan)
    if plan.seq_len != spec.seq_len:
        raise DefinemedError(f"{spec.plan}: planned for seq_len {plan.seq_len}, run spec says {spec.seq_len}")
    tokens = TokenFile(spec.data)
    ds = PackedDataset(plan, tokens, pad_id=0)
    device, mesh = init_distributed(spec)
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        set_seed(spec.seed + rank)
        resume_from = ckpt_lib.latest(ckpt_root) if spec.resume else None
        model = build_model(spec.model_dir, mesh, device, spec.mixed_precision, spec.activation_checkpointing)
        shapes = param_shapes(model)
        if resume_from is not None:
            ckpt_lib.check_compatible(resume_from, shapes)
        model.train()
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": spec.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=spec.lr, betas=spec.betas, eps=spec.eps, foreach=True)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(spec.warmup_steps, spec.steps, spec.min_lr_ratio))
        step, cursor = 0, 0
        if resume_from is not None:
            state = ckpt_lib.load(resume_from, model, opt)
            sched.load_state_dict(state["scheduler"])
            step, cursor = int(state["step"]), int(state["cursor"])
            if rank == 0:
                print(f"resumed from {resume_from.name}: step {step}, cursor {cursor}", flush=True)
        order = SequenceOrder(plan.num_bins, spec.seed)
        label_counts = ds.label_counts()
        micro_per_rank = spec.global_batch // (world * spec.micro_batch_size)
        per_rank = spec.global_batch // world

        counts = count_params(spec.model_dir)
        fpt = flops_per_token(counts["non_embedding"], counts["layers"], counts["hidden"], spec.seq_len)
        peak = peak_flops(torch.cuda.get_device_name(device) if device.type == "cuda" else None)
        metrics_file = run / "metrics.jsonl"
        if rank == 0:
            run.mkdir(parents=True, exist_ok=True)
            # keep only the lines of steps a resumed run does not redo
            old = metrics_file.read_text().splitlines() if metrics_file.exists() else []
            kept = [ln for ln in old if ln and json.loads(ln)["step"] <= step]
            metrics_file.write_text("".join(ln + "\n" for ln in kept))

        t_start = t_last = time.perf_counter()
        tok_since = real_since = 0
        while step < spec.steps:
            bins_global = [order(cursor + j) for j in range(spec.global_batch)]
            n_global = int(sum(label_counts[b] for b in bins_global))  # known from the plan: no all-reduce
            mine = bins_global[rank * per_rank:(rank + 1) * per_rank]
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            for m in range(micro_per_rank):
                last = m == micro_per_rank - 1
                model.set_requires_gradient_sync(last)
                batch = _batch(ds, mine[m * spec.micro_batch_size:(m + 1) * spec.micro_batch_size], device)
                loss, _ = causal_lm_loss(model, batch)
                (loss * (world / max(1, n_global))).backward()
                loss_sum += loss.detach().double()
            if spec.grad_clip > 0:
                gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip, foreach=True)
            else:
                gnorm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
            gnorm = gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            dist.all_reduce(loss_sum)
            step += 1
            cursor += spec.global_batch
            tok_since += spec.global_batch * spec.seq_len
            real_since += n_global
            loss_val = loss_sum.item() / max(1, n_global)
            if rank == 0:
                rec = {"step": step, "loss": loss_val, "lr": lr, "grad_norm": float(gnorm),
                       "label_tokens": n_global, "elapsed_s": time.perf_counter() - t_start}
                if step % spec.log_every == 0 or step == spec.steps:
                    dt = time.perf_counter() - t_last
                    tps = real_since / dt
                    rec.update({"tokens_per_s": tps, "tokens_per_s_per_device": tps / world,
                                "mfu": mfu(tok_since / dt / world, fpt, peak)})
                    m_txt = f" mfu {rec['mfu']:.1%}" if rec["mfu"] is not None else ""
                    print(f"step {step}/{spec.steps} loss {loss_val:.4f} lr {lr:.2e} gnorm {float(gnorm):.3f} "
                          f"{tps:,.0f} label tok/s{m_txt}", flush=True)
                    t_last, tok_since, real_since = time.perf_counter(), 0, 0
                with open(metrics_file, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if (spec.checkpoint_every and step % spec.checkpoint_every == 0) or step == spec.steps:
                state = {"step": step, "cursor": cursor, "scheduler": sched.state_dict(),
                         "param_shapes": shapes, "world_size": world, "spec": spec.model_dump(mode="json")}
                ckpt_lib.save(ckpt_root, step, model, opt, state, spec.keep_checkpoints)
                if spec.fault_kill_after_step and step == spec.fault_kill_after_step:
                    os.kill(os.getpid(), signal.SIGKILL)
        from definemed.training.model import export_hf

        export_hf(model, spec.model_dir, run / "export", spec.export_dtype)
        dist.barrier()
        return {"steps": step}
    finally:
        dist.destroy_process_group()
