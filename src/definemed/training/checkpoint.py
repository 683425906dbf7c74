"""Distributed checkpoints with torch.distributed.checkpoint (DCP).

A checkpoint is the folder `checkpoints/step-XXXXXXX/` with
- the DCP shards of the model and the optimizer (every rank writes its own shards),
- `trainer_state.json`: step, data cursor (sequences consumed), scheduler state, parameter shapes,
- `rng-rank<r>.safetensors`: each rank's torch RNG states (CPU and CUDA),
- `COMPLETE`: written last by rank 0 after a barrier; a folder without it is ignored on resume,
  so a process killed while writing never leaves a checkpoint that looks usable.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from definemed.errors import DefinemedError
from definemed.io import write_json

COMPLETE = "COMPLETE"


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step:07d}"


def latest(root: Path) -> Path | None:
    """The newest complete checkpoint under root, or None."""
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if (p / COMPLETE).is_file())
    return done[-1] if done else None


def read_state(ckpt: Path) -> dict:
    f = ckpt / "trainer_state.json"
    if not f.is_file():
        raise DefinemedError(f"{f}: checkpoint has no trainer state")
    return json.loads(f.read_text(encoding="utf-8"))


def check_compatible(ckpt: Path, shapes: dict[str, list[int]]) -> None:
    """A checkpoint of another model shape is an error that names the first differing tensor."""
    saved = read_state(ckpt).get("param_shapes", {})
    for name in sorted(set(saved) | set(shapes)):
        if saved.get(name) != shapes.get(name):
            raise DefinemedError(
                f"{ckpt}: checkpoint is from another model shape: tensor '{name}' is "
                f"{saved.get(name, 'absent')} in the checkpoint, {shapes.get(name, 'absent')} in the model")


def _rng_state() -> dict[str, torch.Tensor]:
    out = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def save(root: Path, step: int, model, optimizer, trainer_state: dict, keep: int) -> Path:
    import torch.distributed.checkpoint as dcp
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import get_state_dict

    d = step_dir(root, step)
    rank = dist.get_rank()
    if rank == 0 and d.exists():  # a partial folder from a killed run
        shutil.rmtree(d)
    dist.barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    dcp.save({"model": model_sd, "optim": optim_sd}, checkpoint_id=str(d))
    save_file(_rng_state(), str(d / f"rng-rank{rank}.safetensors"))
    dist.barrier()
    if rank == 0:
        write_json(d / "trainer_state.json", trainer_state)
        (d / COMPLETE).write_text(f"{step}\n")
        done = sorted(p for p in root.glob("step-*") if (p / COMPLETE).is_file())
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    dist.barrier()
    return d


def load(ckpt: Path, model, optimizer) -> dict:
    """Restore model, optimizer and this rank's RNG in place; return the trainer state."""
    import torch.distributed.checkpoint as dcp
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    state = read_state(ckpt)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    sd = {"model": model_sd, "optim": optim_sd}
    dcp.load(sd, checkpoint_id=str(ckpt))
    set_state_dict(model, optimizer, model_state_dict=sd["model"], optim_state_dict=sd["optim"])
    rng_file = ckpt / f"rng-rank{dist.get_rank()}.safetensors"
    if rng_file.is_file():
        rng = load_file(str(rng_file))
        torch.set_rng_state(rng["cpu"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])
    return state
