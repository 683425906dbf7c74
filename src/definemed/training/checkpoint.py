"""Distributed checkpoints with torch.distributed.checkpoint (DCP).

A checkpoint is the folder `checkpoints/step-XXXXXXX/` with
- the DCP shards of the model and the optimizer (every rank writes its own shards),
- `trainer_state.json`: step, data cursor (sequences consumed), scheduler state, parameter shapes,
- `rng-rank<r>.safetensors`: each rank's torch RNG states (CPU and CUDA),
- `COMPLETE`: written last by rank 0 after a barrier: the step and every file's size and XXH3-64
  checksum (all files, shards included: xxhash reads at memory speed, so a flipped byte in a
  multi-GB shard is caught; measured in docs/training.md). A folder without it is ignored on resume,
  so a process killed while writing never leaves a checkpoint that looks usable. (Records written
  before the checksums covered every file carry SHA-256 of the small files only; still verified.)

Before a resume, `latest` verifies the newest checkpoints against their `COMPLETE` record; a
damaged one (a truncated or missing shard, an empty trainer state) is reported by name and the
newest intact one is used. Nothing is deleted: the next save of that step replaces the folder.
"""
from __future__ import annotations

import hashlib
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


CHUNK = 8 << 20


def _sha256(f: Path) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()


def checksum(f: Path) -> str:
    """XXH3-64 of a file's bytes (hex), read in 8 MiB chunks: a fast non-cryptographic checksum for
    detecting damage, not tampering."""
    import xxhash

    h = xxhash.xxh3_64()
    with open(f, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _inventory(d: Path) -> dict:
    files = {f.name: f.stat().st_size for f in sorted(d.iterdir()) if f.is_file() and f.name != COMPLETE}
    return {"files": files, "xxh3_64": {n: checksum(d / n) for n in files}}


def verify(ckpt: Path) -> str | None:
    """None if the checkpoint is intact, else what is wrong with it (one phrase naming the file)."""
    marker = ckpt / COMPLETE
    if not marker.is_file():
        return "no COMPLETE marker (the save did not finish)"
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or "files" not in record:  # a marker without inventory
        try:
            read_state(ckpt)
        except DefinemedError as e:
            return str(e).removeprefix(f"{ckpt / 'trainer_state.json'}: ")
        return None if (ckpt / ".metadata").is_file() else ".metadata: missing"
    for name, size in record["files"].items():
        f = ckpt / name
        if not f.is_file():
            return f"{name}: missing"
        if f.stat().st_size != size:
            return f"{name}: {f.stat().st_size} bytes, {size} when saved"
    for name, digest in record.get("xxh3_64", {}).items():
        if checksum(ckpt / name) != digest:
            return f"{name}: content differs from the saved checksum"
    for name, digest in record.get("sha256", {}).items():  # records of earlier versions
        if _sha256(ckpt / name) != digest:
            return f"{name}: content differs from the saved checksum"
    return None


def latest(root: Path, report: bool = True) -> Path | None:
    """The newest intact complete checkpoint under root, or None. A damaged newer one is printed
    by name (with `report`) and skipped."""
    if not root.is_dir():
        return None
    for d in sorted((p for p in root.glob("step-*") if (p / COMPLETE).is_file()), reverse=True):
        problem = verify(d)
        if problem is None:
            return d
        if report:
            print(f"checkpoint {d.name} is damaged ({problem}); trying the next older one", flush=True)
    return None


def read_state(ckpt: Path) -> dict:
    f = ckpt / "trainer_state.json"
    if not f.is_file():
        raise DefinemedError(f"{f}: checkpoint has no trainer state")
    try:
        state = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DefinemedError(f"{f}: not valid JSON (empty or cut short)") from None
    if not isinstance(state, dict) or "step" not in state:
        raise DefinemedError(f"{f}: no 'step' in the trainer state")
    return state


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
        write_json(d / COMPLETE, {"step": step, **_inventory(d)})
        intact = sorted(p for p in root.glob("step-*") if p != d and verify(p) is None) + [d]
        for old in intact[:-keep]:  # prune only intact older ones: a damaged folder is kept for inspection
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
