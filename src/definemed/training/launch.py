"""Launch a training run: checks first, then `torchrun` in a subprocess.

Everything that can be wrong with the input is checked here before a process starts (the workers
repeat the checks that do not need the process group): mesh vs world size, batch split, plan and
token file, and a checkpoint to resume from that belongs to another model shape.

    python -m torch.distributed.run --standalone --nproc-per-node 2 -m definemed.training.worker run.json
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from definemed import paths, procs, progress
from definemed.errors import DefinemedError
from definemed.packing import PackingPlan, TokenFile
from definemed.training import checkpoint as ckpt_lib
from definemed.training.spec import RunSpec


def preflight(spec: RunSpec, nproc: int) -> None:
    from definemed.training.model import meta_model, param_shapes

    spec.check_world(nproc)
    plan = PackingPlan.load(spec.plan)
    if plan.seq_len != spec.seq_len:
        raise DefinemedError(f"{spec.plan}: planned for seq_len {plan.seq_len}, run spec says {spec.seq_len}")
    tokens = TokenFile(spec.data)
    if len(tokens) != plan.num_docs:
        raise DefinemedError(f"{spec.plan}: plan has {plan.num_docs} documents, {spec.data} has {len(tokens)}")
    if plan.num_bins < 1:
        raise DefinemedError(f"{spec.plan}: no sequence to train on")
    last = ckpt_lib.latest(spec.run_dir / "checkpoints", report=False) if spec.resume else None
    if last is not None:
        ckpt_lib.check_compatible(last, param_shapes(meta_model(spec.model_dir)))
    else:
        # NaN / Inf in the base weights: one line naming the tensor here, not a non-finite loss at
        # step 1 reported by every rank with a hint to lower the learning rate
        from definemed.finite import check_folder_finite

        check_folder_finite(spec.model_dir)


def launch(spec: RunSpec, nproc: int, log_file: Path | None = None, echo: bool = True,
           extra_env: dict | None = None, worker: tuple[str, ...] = ("definemed.training.worker",)) -> list[dict]:
    """Run the spec on `nproc` local processes; return the per-step metrics (metrics.jsonl).
    `worker`: the module torchrun runs and its arguments before the spec file (tests run a worker
    with collaborators of their own, e.g. one that kills the ranks after a checkpoint)."""
    preflight(spec, nproc)
    run = spec.run_dir
    run.mkdir(parents=True, exist_ok=True)
    spec_file = spec.write(run / "run.json")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(paths.ROOT / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["OMP_NUM_THREADS"] = str(spec.torch_threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "--max-restarts=0", "-m", *worker, str(spec_file)]
    log_file = log_file or run / "train.log"
    errors: list[str] = []
    tail: list[str] = []
    with open(log_file, "a", encoding="utf-8") as log:
        # own process group, SIGTERM on our death, holds the stage lock; stopped (TERM, grace, KILL)
        # when we leave by Ctrl-C / SIGTERM / an error (definemed.procs)
        t0 = time.time()
        with procs.child(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         drain=log.write) as proc:
            for line in proc.stdout:
                log.write(line)
                text = _RANK_PREFIX.sub("", line.rstrip())
                tail = (tail + [text])[-4:]
                if text.startswith("error: "):
                    errors.append(text.removeprefix("error: "))
                if echo and text.startswith(ECHO_PREFIXES):
                    print(text, flush=True)
                    progress.line(run.name, text, t0)  # the terminal of `make reproduce` sees the steps too
            rc = proc.wait()
    if rc != 0:
        # the first worker error is the cause; the others are usually ranks losing their peer
        raise DefinemedError(errors[0] if errors else f"torchrun exited with {rc}; log {log_file}: " + " | ".join(tail))
    export = run / "export"
    if not (export / "config.json").is_file():
        raise DefinemedError(f"{run}: training stopped before the last step on request (checkpoint written); "
                             "rerun to resume")
    return read_metrics(run)


_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")
ECHO_PREFIXES = ("step ", "resumed", "error", "checkpoint ", "stopped")


def read_metrics(run_dir: Path) -> list[dict]:
    from definemed.training.loop import read_jsonl

    return read_jsonl(Path(run_dir) / "metrics.jsonl")
