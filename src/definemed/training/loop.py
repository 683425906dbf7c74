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

Structure (as torchtitan's trainer): `train_step` is one optimizer step and nothing else;
`train_loop` drives it and hands each result to its collaborators, `MetricsLog` (rank 0's
metrics.jsonl and progress lines), `Checkpointer` (when to save, callbacks after a save) and the
`StopRequest`; `train` builds them from the run spec. Tests pass collaborators of their own through
`train(..., on_checkpoint=...)` (tests/training/kill_worker.py) instead of hooks in this loop.

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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable, Sequence

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


# ---- the step and the loop, torchtitan-style: a short train_step, a loop driving collaborators ----
class StopRequest:
    """A stop request to this rank: SIGUSR1 / SIGTERM (handlers installed by `install`) or a STOP file
    in the run folder (e.g. written by the Slurm script before the time limit)."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def install(self) -> None:
        for sig in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(sig, _on_stop_signal)

    def __call__(self) -> bool:
        return stop_requested(self.run_dir)

    def clear(self) -> None:
        (self.run_dir / STOP_FILE).unlink(missing_ok=True)


@dataclass
class TrainState:
    """What a checkpoint stores besides the weights and the optimizer: steps done and sequences consumed."""

    step: int = 0
    cursor: int = 0
    bad_in_row: int = 0


@dataclass
class StepResult:
    loss: float
    """Mean token loss of the global batch (all ranks)."""
    grad_norm: float
    lr: float
    """The learning rate the step used."""
    label_tokens: int
    finite: bool
    stop: bool
    """Some rank was asked to stop."""


@dataclass
class Trainee:
    """What one optimizer step works on: the sharded model, its optimizer and schedule, and the data."""

    spec: RunSpec
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    ds: PackedDataset
    order: SequenceOrder
    label_counts: np.ndarray
    device: torch.device
    rank: int
    world: int
    hsdp: bool
    meter: "MemoryMeter"
    stop: Callable[[], bool]


def train_step(t: Trainee, cursor: int) -> StepResult:
    """One optimizer step over the global batch starting at sequence `cursor` (every rank its share).

    The loss of each micro batch is scaled by world / (label tokens of the global batch), so every
    label token weighs the same; a step whose loss or gradient norm is not finite is not applied."""
    spec, model, world, device = t.spec, t.model, t.world, t.device
    micro_per_rank = spec.global_batch // (world * spec.micro_batch_size)
    per_rank = spec.global_batch // world
    bins_global = [t.order(cursor + j) for j in range(spec.global_batch)]
    n_global = int(sum(t.label_counts[b] for b in bins_global))  # known from the plan: no all-reduce
    mine = bins_global[t.rank * per_rank:(t.rank + 1) * per_rank]
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    for m in range(micro_per_rank):
        last = m == micro_per_rank - 1
        if spec.accumulate == "no_sync":
            model.set_requires_gradient_sync(last)
        elif t.hsdp:  # reduce-scatter every micro batch, all-reduce across replicas once
            model.set_requires_all_reduce(last)
        batch = _batch(t.ds, mine[m * spec.micro_batch_size:(m + 1) * spec.micro_batch_size], device)
        t.meter.next_forward()
        loss, _ = causal_lm_loss(model, batch, spec.loss_chunk_tokens)
        (loss * (world / max(1, n_global))).backward()
        loss_sum += loss.detach().double()
    if spec.grad_clip > 0:
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip, foreach=True)
    else:
        gnorm = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    gnorm = float(gnorm.full_tensor() if hasattr(gnorm, "full_tensor") else gnorm)
    # one all-reduce: the loss of the step and whether any rank was asked to stop
    flags = torch.stack([loss_sum, torch.tensor(float(t.stop()), device=device, dtype=torch.float64)])
    dist.all_reduce(flags)
    loss_val = flags[0].item() / max(1, n_global)
    lr = t.sched.get_last_lr()[0]
    finite = _all_finite(loss_val, gnorm)
    if finite:
        t.opt.step()
    t.sched.step()
    t.opt.zero_grad(set_to_none=True)
    return StepResult(loss_val, gnorm, lr, n_global, finite, flags[1].item() > 0)


class MetricsLog:
    """Rank 0's metrics.jsonl (one record per step) and its progress line every `log_every` steps,
    with throughput and MFU over the steps since the last line; other ranks write nothing."""

    def __init__(self, run: Path, spec: RunSpec, rank: int, world: int, fpt: float, peak, meter: "MemoryMeter",
                 start_step: int):
        self.file, self.spec, self.world = run / "metrics.jsonl", spec, world
        self.fpt, self.peak, self.meter = fpt, peak, meter
        self.active = rank == 0
        if self.active:
            run.mkdir(parents=True, exist_ok=True)
            # keep only the lines of steps a resumed run does not redo (a cut last line is dropped)
            kept = [r for r in read_jsonl(self.file) if r.get("step", 0) <= start_step]
            from definemed.io import write_text

            write_text(self.file, "".join(json.dumps(r) + "\n" for r in kept))
        self.t_start = self.t_last = time.perf_counter()
        self.tok_since = self.real_since = 0

    def step(self, step: int, r: StepResult) -> None:
        spec = self.spec
        self.tok_since += spec.global_batch * spec.seq_len
        self.real_since += r.label_tokens
        if not self.active:
            return
        rec = {"step": step, "loss": r.loss, "lr": r.lr, "grad_norm": r.grad_norm,
               "label_tokens": r.label_tokens, "elapsed_s": time.perf_counter() - self.t_start}
        if not r.finite:
            rec["skipped"] = True
        if step % spec.log_every == 0 or step == spec.steps:
            dt = time.perf_counter() - self.t_last
            tps = self.real_since / dt
            rec.update({"tokens_per_s": tps, "tokens_per_s_per_device": tps / self.world,
                        "mfu": mfu(self.tok_since / dt / self.world, self.fpt, self.peak)})
            m_txt = f" mfu {rec['mfu']:.1%}" if rec["mfu"] is not None else ""
            print(f"step {step}/{spec.steps} loss {r.loss:.4f} lr {r.lr:.2e} gnorm {r.grad_norm:.3f} "
                  f"{tps:,.0f} label tok/s{m_txt}", flush=True)
            self.t_last, self.tok_since, self.real_since = time.perf_counter(), 0, 0
        mem = self.meter.peak()
        if mem is not None:
            rec["peak_mem_bytes"] = mem
            if self.meter.tracker is not None:
                rec["peak_mem_by_kind"] = self.meter.peak_by_kind()
        with open(self.file, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def print(self, text: str) -> None:
        if self.active:
            print(text, flush=True)


class Checkpointer:
    """Distributed checkpoints of the run: every `checkpoint_every` steps, at the last step, and on a
    stop request. `on_saved(step)` callbacks run after each save (tests use one to kill the ranks
    right after a checkpoint)."""

    def __init__(self, root: Path, spec: RunSpec, trainee: Trainee, shapes: dict, on_saved=()):
        self.root, self.spec, self.t, self.shapes = root, spec, trainee, shapes
        self.on_saved = list(on_saved)

    def due(self, step: int) -> bool:
        return bool(self.spec.checkpoint_every and step % self.spec.checkpoint_every == 0) or step == self.spec.steps

    def save(self, state: TrainState) -> None:
        t = self.t
        meta = {"step": state.step, "cursor": state.cursor, "scheduler": t.sched.state_dict(),
                "param_shapes": self.shapes, "world_size": t.world, "spec": self.spec.model_dump(mode="json")}
        ckpt_lib.save(self.root, state.step, t.model, t.opt, meta, self.spec.keep_checkpoints)
        for f in self.on_saved:
            f(state.step)


def train_loop(t: Trainee, state: TrainState, log: MetricsLog, checkpointer: Checkpointer) -> bool:
    """Run steps until `spec.steps`; True if it stopped early on request (after checkpointing)."""
    spec = t.spec
    while state.step < spec.steps:
        r = train_step(t, state.cursor)
        state.bad_in_row = 0 if r.finite else state.bad_in_row + 1
        state.step += 1
        state.cursor += spec.global_batch
        log.step(state.step, r)
        if not r.finite and state.bad_in_row > spec.nonfinite_patience:
            last_ok = ckpt_lib.latest(checkpointer.root, report=False)
            raise DefinemedError(
                f"step {state.step}: loss {r.loss:.4g} / grad norm {r.grad_norm:.4g} not finite "
                f"({state.bad_in_row} step(s) in a row, patience {spec.nonfinite_patience}); stopped without "
                f"export; newest checkpoint {last_ok.name if last_ok else 'none'} (lower cpt.lr?)")
        if not r.finite:
            log.print(f"step {state.step}: loss or grad norm not finite, update skipped "
                      f"({state.bad_in_row}/{spec.nonfinite_patience})")
        if r.stop and state.step < spec.steps:
            checkpointer.save(state)
            return True
        if checkpointer.due(state.step):
            checkpointer.save(state)
    return False


def train(spec_path: str | Path, on_checkpoint: Sequence[Callable[[int], None]] = ()) -> dict:
    """Train one rank from a run spec: set up, resume, `train_loop`, export (or stop on request).
    `on_checkpoint`: callbacks after each checkpoint (`Checkpointer.on_saved`)."""
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
    stop = StopRequest(run)
    stop.install()
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
        state = TrainState()
        if resume_from is not None:
            saved = ckpt_lib.load(resume_from, model, opt)
            sched.load_state_dict(saved["scheduler"])
            state = TrainState(int(saved["step"]), int(saved["cursor"]))
            if rank == 0:
                print(f"resumed from {resume_from.name}: step {state.step}, cursor {state.cursor}", flush=True)
        counts = count_params(spec.model_dir)
        fpt = flops_per_token(counts["non_embedding"], counts["layers"], counts["hidden"], spec.seq_len)
        peak = peak_flops(torch.cuda.get_device_name(device) if device.type == "cuda" else None)
        meter = MemoryMeter(device, spec.track_memory, model, opt)
        trainee = Trainee(spec, model, opt, sched, ds, SequenceOrder(plan.num_bins, spec.seed), ds.label_counts(),
                          device, rank, world, mesh.ndim == 2, meter, stop)
        log = MetricsLog(run, spec, rank, world, fpt, peak, meter, state.step)
        checkpointer = Checkpointer(ckpt_root, spec, trainee, shapes, on_checkpoint)
        with meter:
            stopped = train_loop(trainee, state, log, checkpointer)
        if stopped:
            if rank == 0:
                stop.clear()
                print(f"stopped at step {state.step}/{spec.steps} on request; checkpoint written, rerun to resume",
                      flush=True)
            dist.barrier()
            return {"steps": state.step, "stopped": True}
        export_hf(model, spec.model_dir, run / "export", spec.export_dtype)
        dist.barrier()
        return {"steps": state.step, "stopped": False}
    finally:
        dist.destroy_process_group()
