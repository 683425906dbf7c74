"""The training loop of one rank (run under torchrun; see `definemed.training.launch`).

Per optimizer step, every rank runs `global_batch / (world * micro_batch)` micro batches of packed
sequences with gradient accumulation. The loss of each micro batch is its summed token
cross-entropy divided by the number of label tokens of the whole global batch (known from the
plan), times the world size because FSDP averages gradients over ranks: every label token of the
step then weighs the same, whatever rank or sequence it sits in, and the result equals one big
batch on one process.

Accumulation (`RunSpec.accumulate`): `reduce_scatter` (default) reduce-scatters the gradients of
every micro batch, so a rank only ever holds its fp32 gradient shard plus one layer's unsharded
gradient in flight; with HSDP the all-reduce across replicas runs only on the last micro batch
(`set_requires_all_reduce`). `no_sync` keeps full unsharded fp32 gradients on every rank until the
last micro batch (less communication, a full model's gradients more memory per rank).

The loss never materialises the full fp32 logits: the decoder's last hidden states go through the
LM head and the cross-entropy in chunks of `loss_chunk_tokens` tokens, each chunk recomputed in
backward (`chunked_cross_entropy`).

A step whose loss or gradient norm is not finite is not applied; after `nonfinite_patience` such
steps in a row the run stops with one line naming the step and exports nothing. A stop request
(SIGUSR1 / SIGTERM to a worker, or a `STOP` file in the run folder, e.g. from the Slurm script
before the time limit) checkpoints at the end of the current step and exits without export.
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


DEFAULT_LOSS_CHUNK = 1024


def _chunk_loss(head, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction="sum")


def chunked_cross_entropy(hidden: torch.Tensor, head: torch.nn.Module, labels: torch.Tensor,
                          chunk_tokens: int = DEFAULT_LOSS_CHUNK) -> torch.Tensor:
    """Summed cross-entropy of `head(hidden)` against labels, `chunk_tokens` tokens at a time.

    With gradients enabled each chunk is an activation checkpoint: only its hidden states are
    saved, its logits (fp32 for the softmax) are rebuilt one chunk at a time in backward. Peak
    logits memory is chunk x vocab instead of tokens x vocab (Qwen2.5-7B at 4,096 tokens: 2.5 GB
    of fp32 logits plus their gradient, against 0.6 GB per 1,024-token chunk).
    """
    from torch.utils.checkpoint import checkpoint

    h = hidden.reshape(-1, hidden.size(-1))
    y = labels.reshape(-1)
    # one chunk: nothing to save by recomputing (the recompute costs one more LM-head forward,
    # for Qwen2.5-7B about 2.5 % of a step's FLOPs)
    recompute = torch.is_grad_enabled() and h.size(0) > chunk_tokens
    total = h.new_zeros((), dtype=torch.float32)
    for i in range(0, h.size(0), chunk_tokens):
        hc, yc = h[i:i + chunk_tokens], y[i:i + chunk_tokens]
        if recompute:
            total = total + checkpoint(_chunk_loss, head, hc, yc, use_reentrant=False)
        else:
            total = total + _chunk_loss(head, hc, yc)
    return total


def causal_lm_loss(model, batch: dict, chunk_tokens: int = DEFAULT_LOSS_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token cross-entropy and the number of label tokens of a packed batch.

    No attention_mask and use_cache=False: transformers then derives a block-causal mask from the
    restarting position_ids, so no token attends across a document boundary. The decoder and the
    chunked loss run inside the model's own call (its forward is swapped for the duration), so the
    FSDP root's hooks gather the embeddings and the LM head exactly as for a normal forward.
    """
    labels = batch["labels"][:, 1:]

    def forward(input_ids, position_ids):
        hidden = model.model(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state
        return chunked_cross_entropy(hidden[:, :-1], model.get_output_embeddings(), labels, chunk_tokens)

    saved = model.__dict__.get("forward")
    model.forward = forward
    try:
        loss = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"])
    finally:
        if saved is None:
            del model.forward
        else:
            model.forward = saved
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
    """Process group (NCCL on GPU, gloo on CPU) and the 1-D FSDP or 2-D HSDP device mesh.

    The topology comes from the launch (torchrun's WORLD_SIZE and LOCAL_WORLD_SIZE, i.e. the Slurm
    allocation) and is checked against the spec before the process group starts."""
    from torch.distributed.device_mesh import init_device_mesh

    world = int(os.environ.get("WORLD_SIZE", "0"))
    if world < 1 or "RANK" not in os.environ:
        raise DefinemedError("WORLD_SIZE/RANK: not set; launch with torchrun (definemed.training.launch)")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    spec.check_world(world, local_world)  # before the process group: a bad mesh is an error, not a hang
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


STOP_FILE = "STOP"
_stop_signal = {"flag": False}


def _on_stop_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    _stop_signal["flag"] = True


def stop_requested(run_dir: Path) -> bool:
    """This rank's view: a stop signal arrived or the run folder has a STOP file."""
    return _stop_signal["flag"] or (run_dir / STOP_FILE).exists()


class MemoryMeter:
    """Peak allocated bytes of this rank: the CUDA caching allocator's counter on GPUs; on CPU,
    with `track=True`, torch's MemTracker (tensor storages seen by the dispatcher, parameters and
    optimizer state included), since CPU allocations have no counter. Not RSS."""

    def __init__(self, device: torch.device, track: bool, model=None, optimizer=None):
        self.device, self.tracker = device, None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        elif track:
            from torch.distributed._tools.mem_tracker import MemTracker

            self.tracker = MemTracker()
            self.tracker.track_external(model, optimizer)

    def __enter__(self):
        if self.tracker is not None:
            self.tracker.__enter__()
        return self

    def __exit__(self, *exc):
        if self.tracker is not None:
            self.tracker.__exit__(*exc)

    def next_forward(self) -> None:
        """MemTracker keeps per-module statistics for one forward of the root: start a new one
        (the global peak is kept)."""
        if self.tracker is not None:
            self.tracker.reset_mod_stats()

    def peak_by_kind(self) -> dict | None:
        """CPU tracker only: the peak's bytes by kind (parameters, gradients, optimizer state, ...)."""
        if self.tracker is None:
            return None
        snap = self.tracker.get_tracker_snapshot("peak")
        out: dict[str, int] = {}
        for dev_snap in snap.values():
            for k, v in dev_snap.items():
                out[str(getattr(k, "value", k))] = out.get(str(getattr(k, "value", k)), 0) + int(v)
        return out

    def peak(self) -> int | None:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.tracker is not None:
            return int(sum(v["Total"] for v in self.tracker.get_tracker_snapshot("peak").values()))
        return None


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines file written by appending. A partial last line (a process killed
    mid-write) is dropped; an unreadable line elsewhere is an error naming the file and line."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    out = []
    for k, ln in enumerate(lines):
        if not ln.strip():
            continue
        try:
            out.append(json.loads(ln))
        except json.JSONDecodeError:
            if k == len(lines) - 1:  # no newline after it: the write was cut short
                break
            raise DefinemedError(f"{path}: line {k + 1} is not valid JSON") from None
    return out


def _all_finite(*xs: float) -> bool:
    return all(math.isfinite(x) for x in xs)


def train(spec_path: str | Path) -> dict:
    spec = RunSpec.read(spec_path)
    from definemed.seed import set_seed
    from definemed.training.model import build_model, count_params, export_hf, param_shapes

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
    for sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(sig, _on_stop_signal)
    try:
        set_seed(spec.seed + rank)
        resume_from = ckpt_lib.latest(ckpt_root, report=rank == 0) if spec.resume else None
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
        hsdp = mesh.ndim == 2

        counts = count_params(spec.model_dir)
        fpt = flops_per_token(counts["non_embedding"], counts["layers"], counts["hidden"], spec.seq_len)
        peak = peak_flops(torch.cuda.get_device_name(device) if device.type == "cuda" else None)
        metrics_file = run / "metrics.jsonl"
        if rank == 0:
            run.mkdir(parents=True, exist_ok=True)
            # keep only the lines of steps a resumed run does not redo (a cut last line is dropped)
            kept = [r for r in read_jsonl(metrics_file) if r.get("step", 0) <= step]
            from definemed.io import write_text

            write_text(metrics_file, "".join(json.dumps(r) + "\n" for r in kept))

        def save_checkpoint():
            state = {"step": step, "cursor": cursor, "scheduler": sched.state_dict(),
                     "param_shapes": shapes, "world_size": world, "spec": spec.model_dump(mode="json")}
            ckpt_lib.save(ckpt_root, step, model, opt, state, spec.keep_checkpoints)

        meter = MemoryMeter(device, spec.track_memory, model, opt)
        t_start = t_last = time.perf_counter()
        tok_since = real_since = 0
        bad_in_row = 0
        stopped = False
        with meter:
            while step < spec.steps:
                bins_global = [order(cursor + j) for j in range(spec.global_batch)]
                n_global = int(sum(label_counts[b] for b in bins_global))  # known from the plan: no all-reduce
                mine = bins_global[rank * per_rank:(rank + 1) * per_rank]
                loss_sum = torch.zeros((), device=device, dtype=torch.float64)
                for m in range(micro_per_rank):
                    last = m == micro_per_rank - 1
                    if spec.accumulate == "no_sync":
                        model.set_requires_gradient_sync(last)
                    elif hsdp:  # reduce-scatter every micro batch, all-reduce across replicas once
                        model.set_requires_all_reduce(last)
                    batch = _batch(ds, mine[m * spec.micro_batch_size:(m + 1) * spec.micro_batch_size], device)
                    meter.next_forward()
                    loss, _ = causal_lm_loss(model, batch, spec.loss_chunk_tokens)
                    (loss * (world / max(1, n_global))).backward()
                    loss_sum += loss.detach().double()
                if spec.grad_clip > 0:
                    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip, foreach=True)
                else:
                    gnorm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
                gnorm = float(gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm)
                # one all-reduce: the loss of the step and whether any rank was asked to stop
                flags = torch.stack([loss_sum, torch.tensor(float(stop_requested(run)), device=device,
                                                            dtype=torch.float64)])
                dist.all_reduce(flags)
                loss_val = flags[0].item() / max(1, n_global)
                lr = sched.get_last_lr()[0]
                finite = _all_finite(loss_val, gnorm)
                if finite:
                    opt.step()
                    bad_in_row = 0
                else:
                    bad_in_row += 1
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                cursor += spec.global_batch
                tok_since += spec.global_batch * spec.seq_len
                real_since += n_global
                if rank == 0:
                    rec = {"step": step, "loss": loss_val, "lr": lr, "grad_norm": gnorm,
                           "label_tokens": n_global, "elapsed_s": time.perf_counter() - t_start}
                    if not finite:
                        rec["skipped"] = True
                    if step % spec.log_every == 0 or step == spec.steps:
                        dt = time.perf_counter() - t_last
                        tps = real_since / dt
                        rec.update({"tokens_per_s": tps, "tokens_per_s_per_device": tps / world,
                                    "mfu": mfu(tok_since / dt / world, fpt, peak)})
                        m_txt = f" mfu {rec['mfu']:.1%}" if rec["mfu"] is not None else ""
                        print(f"step {step}/{spec.steps} loss {loss_val:.4f} lr {lr:.2e} gnorm {gnorm:.3f} "
                              f"{tps:,.0f} label tok/s{m_txt}", flush=True)
                        t_last, tok_since, real_since = time.perf_counter(), 0, 0
                    mem = meter.peak()
                    if mem is not None:
                        rec["peak_mem_bytes"] = mem
                        if meter.tracker is not None:
                            rec["peak_mem_by_kind"] = meter.peak_by_kind()
                    with open(metrics_file, "a") as f:
                        f.write(json.dumps(rec) + "\n")
                if not finite and bad_in_row > spec.nonfinite_patience:
                    last_ok = ckpt_lib.latest(ckpt_root, report=False)
                    raise DefinemedError(
                        f"step {step}: loss {loss_val:.4g} / grad norm {gnorm:.4g} not finite "
                        f"({bad_in_row} step(s) in a row, patience {spec.nonfinite_patience}); stopped without "
                        f"export; newest checkpoint {last_ok.name if last_ok else 'none'} (lower cpt.lr?)")
                if not finite and rank == 0:
                    print(f"step {step}: loss or grad norm not finite, update skipped "
                          f"({bad_in_row}/{spec.nonfinite_patience})", flush=True)
                if flags[1].item() > 0 and step < spec.steps:
                    save_checkpoint()
                    stopped = True
                    break
                if (spec.checkpoint_every and step % spec.checkpoint_every == 0) or step == spec.steps:
                    save_checkpoint()
                    if spec.fault_kill_after_step and step == spec.fault_kill_after_step:
                        os.kill(os.getpid(), signal.SIGKILL)
        if stopped:
            if rank == 0:
                (run / STOP_FILE).unlink(missing_ok=True)
                print(f"stopped at step {step}/{spec.steps} on request; checkpoint written, rerun to resume",
                      flush=True)
            dist.barrier()
            return {"steps": step, "stopped": True}
        export_hf(model, spec.model_dir, run / "export", spec.export_dtype)
        dist.barrier()
        return {"steps": step, "stopped": False}
    finally:
        dist.destroy_process_group()
