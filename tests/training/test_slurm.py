"""`scripts/slurm/cpt_paper.sbatch` submitted with `sbatch` to a real one-node Slurm
(`scripts/slurm/local_cluster.sh start`), from the repository root, unmodified: Slurm runs its spool
copy. A tiny model trains on 2 gloo processes (`--gpus-per-node=0 --cpus-per-task=2` on the command
line, the only overrides of the script's #SBATCH lines besides a short --time).

Checked: it trains and the log lands where the script's --output says; the time-limit signal
(USR1 to the batch shell, as `--signal=B:USR1@600` has slurmctld send it) checkpoints, requeues the
job, and the requeued job resumes to weights bitwise equal to the uninterrupted job's; the stage
runner (make / notebook 04) then reuses the published run and deletes nothing; `scancel` checkpoints
and does not requeue; a worker fault is restarted in place by torchrun (--max-restarts) and, when
torchrun is out of restarts, the job requeues itself within its retry budget and then finishes;
submitting from another folder or with another allocation is refused in one line.

The tests skip (with the reason) when no cluster answers; CI (.ci/run starts the cluster and sets
DEFINEMED_REQUIRE_SLURM=1) makes a missing cluster a failure instead.

The time-limit signal is sent by the test (`scancel --batch --signal=USR1`), the same delivery as
slurmctld's at the time limit: slurmctld checks time limits only every 30 s, which would make when
the signal arrives (before, during or after the few seconds of tiny training) a matter of luck.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from definemed import artifacts, paths, stages
from definemed.config import load_config
from tests.conftest import SMALL_CORPUS, make_corpus, write_config

MODEL = "qwen2.5-7b-tiny"
SCRIPT = paths.ROOT / "scripts" / "slurm" / "cpt_paper.sbatch"
# the script's #SBATCH lines a CPU test node cannot satisfy; everything else is the script's own
OVERRIDES = ["--nodes=1", "--gpus-per-node=0", "--cpus-per-task=2", "--time=30"]
TIMEOUT = 900  # seconds for one job: about 30 s on 2 idle cores, minutes on a shared, loaded machine
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED")


def _cluster_state() -> str:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return "no sbatch/sinfo on PATH"
    try:
        res = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo timed out"
    state = res.stdout.strip()
    if res.returncode != 0 or not state:
        return f"sinfo: {(res.stderr or 'no node').strip().splitlines()[0]}"
    if not re.match(r"(idle|mixed|allocated|completing)", state):
        return f"node state {state}"
    return ""


@pytest.fixture(scope="module")
def cluster():
    problem = _cluster_state()
    if problem:
        reason = f"no local Slurm ({problem}): start one with `sudo scripts/slurm/local_cluster.sh start`"
        if os.environ.get("DEFINEMED_REQUIRE_SLURM") == "1":
            pytest.fail(f"DEFINEMED_REQUIRE_SLURM=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(root: Path, cfg_file: Path, steps: int):
    """Corpus, filtered shard and tiny foundation model of a test profile under output root `root`."""
    from definemed.training import stage
    from tests.factories import tiny_model

    cpt = {"seq_len": 64, "micro_batch_size": 1, "global_batch": 4, "steps": steps, "warmup_steps": 1,
           "checkpoint_every": 2, "heldout_docs": 5, "nproc_per_node": 2, "nnodes": 1, "dp_replicate": 1,
           "log_every": 1, "launcher": "slurm", "on_settings_change": "refuse", "cluster": {"gpu": None}}
    models = {"foundations": [{"name": MODEL, "architecture": "qwen2", "role": "small"}]}
    write_config(cfg_file, corpus=SMALL_CORPUS, cpt=cpt, models=models)
    os.environ["DEFINEMED_OUTPUT_ROOT"] = str(root)  # restored by the out_root fixture's monkeypatch
    cfg = load_config(cfg_file)
    make_corpus(cfg)
    texts = [f"Die Therapie mit Medikament {i} senkt den Blutdruck bei Patient {i % 7}." * (1 + i % 3)
             for i in range(120)]
    d = cfg.stage_dir("03_filter") / "shards"
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [f"m{i}" for i in range(len(texts))], "text": texts,
                  "score": np.full(len(texts), 0.95, np.float32)}).to_parquet(d / "shard-00000.parquet")
    tiny_model(stage.foundation_dir(cfg, MODEL), "qwen2", vocab_size=512, hidden=32, layers=2, seed=0,
               tokenizer_texts=texts)
    for up in (artifacts.FILTER, artifacts.ZOO):  # stand-ins registered as the outputs of 03 and the zoo
        stages.register(cfg, up)
    env = dict(os.environ, MODEL=MODEL, PROFILE=str(cfg_file), GPUS_PER_NODE="2", RDZV_PORT=str(_free_port()),
               OMP_NUM_THREADS="1", DEFINEMED_OUTPUT_ROOT=str(root))
    return cfg, env


@pytest.fixture
def job_env(cluster, tmp_path, out_root):
    """A factory: (cfg, env) of a tiny test profile with its own output root; removes the job logs."""
    logs: list[Path] = []

    def make(name: str = "out", steps: int = 4):
        return _setup(tmp_path / name, tmp_path / f"{name}.yaml", steps)

    make.logs = logs
    yield make
    for log in logs:
        log.unlink(missing_ok=True)


def _log_path(job_id: str) -> Path:
    """Where the script's `#SBATCH --output` puts the log of a job submitted from the repository."""
    pattern = re.search(r"^#SBATCH --output=(\S+)$", SCRIPT.read_text(), re.M).group(1)
    return paths.ROOT / pattern.replace("%x", "definemed-cpt").replace("%j", job_id)


def _submit(env: dict, *extra: str, cwd: Path = paths.ROOT, logs: list | None = None) -> str:
    res = subprocess.run(["sbatch", "--parsable", *OVERRIDES, *extra, str(SCRIPT)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.strip().split(";")[0]
    if logs is not None:
        logs.append(_log_path(job_id))
    return job_id


def _job(job_id: str) -> dict:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def _wait(job_id: str, until, timeout: float = TIMEOUT, what: str = "") -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = _job(job_id)
        if until(info):
            return info
        time.sleep(0.5)
    subprocess.run(["scancel", job_id])
    log = _log_path(job_id)
    pytest.fail(f"job {job_id}: {what or 'condition'} not reached in {timeout} s; state {_job(job_id)}; "
                f"log tail: {log.read_text()[-3000:] if log.exists() else 'no log'}")


def _final(job_id: str, timeout: float = TIMEOUT) -> dict:
    """Wait until the job has ended for good (not pending after a requeue, not running)."""
    return _wait(job_id, lambda i: i.get("JobState") in ENDED, timeout, "the end")


def _wait_log(job_id: str, text: str, count: int = 1, timeout: float = TIMEOUT) -> None:
    log = _log_path(job_id)
    _wait(job_id, lambda i: log.exists() and log.read_text().count(text) >= count, timeout, repr(text))


def _workers(spec: Path) -> list[int]:
    """Pids of the training processes (not the torchrun agent) of one run."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"definemed.training.worker" in argv and str(spec).encode() in argv and b"torch.distributed.run" not in argv:
            pids.append(int(proc.name))
    return pids


def _catches_stop_signals(pid: int) -> bool:
    """The worker has installed its SIGTERM / SIGUSR1 handlers (SigCgt in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return all(caught >> (sig - 1) & 1 for sig in (10, 15))


def _export_bytes(run: Path) -> dict:
    return {f.name: f.read_bytes() for f in sorted((run / "export").glob("*.safetensors"))}


def _snapshot(root: Path) -> dict:
    import hashlib

    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in root.rglob("*") if f.is_file()}


def test_slurm_trains_requeues_at_the_time_limit_and_resumes_bitwise(job_env):
    from definemed.training import run_record, stage
    from definemed.training.plan import plan_vs_run

    # the uninterrupted job: trains, publishes, logs where the script says
    ref_cfg, ref_env = job_env("ref")
    ref_id = _submit(ref_env, logs=job_env.logs)
    info = _final(ref_id)
    log = _log_path(ref_id).read_text()
    assert info["JobState"] == "COMPLETED" and info["Restarts"] == "0", log[-3000:]
    assert f"published {stage.cpt_model_dir(ref_cfg, MODEL)}" in log
    assert "step 4/4 loss" in log and "slurm_script" not in log
    ref_run = run_record.run_dir(ref_cfg, MODEL)

    # the same profile elsewhere: the time-limit signal comes before training; the job checkpoints
    # after step 1, requeues itself, and the requeued job resumes and finishes
    cfg, env = job_env("out")
    job_id = _submit(env, logs=job_env.logs)
    _wait_log(job_id, "run folder ")
    subprocess.run(["scancel", "--batch", "--signal=USR1", job_id], check=True)
    info = _wait(job_id, lambda i: i.get("Restarts") == "1" and i.get("JobState") in ENDED, what="requeued end")
    log = _log_path(job_id).read_text()
    assert info["JobState"] == "COMPLETED", log[-3000:]
    assert "SIGUSR1 received" in log and f"not finished: requeueing job {job_id}" in log, log[-3000:]
    assert "stopped at step 1/4 on request" in log and "resumed from step-0000001" in log
    assert log.count(f"job {job_id} restart 1:") == 1  # one log, appended by the requeued job
    run = run_record.run_dir(cfg, MODEL)
    assert not (run / "STOP").exists() and not (run / "slurm_failures").exists()
    ref_weights, weights = _export_bytes(ref_run), _export_bytes(run)
    assert ref_weights and weights == ref_weights  # bitwise equal to the uninterrupted job
    from definemed.training.loop import read_jsonl

    assert [r["loss"] for r in read_jsonl(run / "metrics.jsonl")] == [r["loss"] for r in read_jsonl(ref_run / "metrics.jsonl")]

    # the make / notebook path reuses the published run: launches nothing, changes no file
    before = _snapshot(stage.stage_dir(cfg))
    rec = stages.run(cfg, artifacts.CPT)
    assert rec["counts"]["steps"] == {MODEL: 4}
    after = _snapshot(stage.stage_dir(cfg))
    assert [k for k in before if after.get(k) != before[k]] == []  # every file kept, same content
    assert not (run / "train.log").exists()
    for row in plan_vs_run(cfg, MODEL):  # the plan's numbers are the run's (CPU plan, fp32)
        assert row["plan"] == row["run"], row


def test_scancel_checkpoints_and_does_not_requeue(job_env):
    from definemed.training import run_record, stage

    cfg, env = job_env("cancel", steps=200)
    run = run_record.run_dir(cfg, MODEL)
    job_id = _submit(env, logs=job_env.logs)
    # cancel once both workers can take SIGTERM (a worker still importing torch would just die)
    _wait(job_id, lambda i: len(w := _workers(run / "run.json")) == 2 and all(map(_catches_stop_signals, w)),
          what="workers with signal handlers")
    subprocess.run(["scancel", job_id], check=True)
    info = _final(job_id)
    log = _log_path(job_id).read_text()
    assert info["JobState"] == "CANCELLED" and info["Restarts"] == "0", log[-3000:]
    assert "requeueing" not in log
    steps = sorted(p.name for p in (run / "checkpoints").glob("step-*") if (p / "COMPLETE").is_file())
    assert steps and steps[-1] < "step-0000200", (steps, log[-3000:])  # a checkpoint, written on SIGTERM
    assert not stage.cpt_model_dir(cfg, MODEL).exists()


def test_a_worker_fault_is_restarted_then_requeued_within_the_budget(job_env):
    from definemed.training import run_record, stage

    cfg, env = job_env("fault")
    run = run_record.run_dir(cfg, MODEL)
    # one restart in place, one requeue; kill a worker of each of the first two worker groups
    job_id = _submit(dict(env, MAX_RESTARTS="1", CPT_RETRIES="1"), logs=job_env.logs)
    killed: set[int] = set()
    for _ in range(2):
        at = _wait(job_id, lambda i: len(set(_workers(run / "run.json")) - killed) == 2, what="a new worker group")
        assert at["Restarts"] == "0"  # the second group is torchrun's restart in place, not a requeue
        group = set(_workers(run / "run.json")) - killed
        os.kill(min(group), 9)
        killed.update(group)
    info = _wait(job_id, lambda i: i.get("Restarts") == "1" and i.get("JobState") in ENDED, what="requeued end")
    log = _log_path(job_id).read_text()
    assert info["JobState"] == "COMPLETED", log[-4000:]
    assert "failure 1 in a row" in log and f"retry 1 of 1: requeueing job {job_id}" in log
    assert f"published {stage.cpt_model_dir(cfg, MODEL)}" in log
    assert not (run / "slurm_failures").exists()  # cleared by the successful job


def test_submitted_elsewhere_or_with_another_allocation_is_refused_in_one_line(job_env, tmp_path):
    from definemed.training import run_record

    cfg, env = job_env("refuse")
    out = tmp_path / "elsewhere.out"
    job_id = _submit(env, f"--output={out}", cwd=tmp_path)
    info = _final(job_id, 60)
    assert info["JobState"] == "FAILED"
    assert out.read_text().strip() == (f"error: submitted from {tmp_path}, not the repository root: cd to the "
                                       "repository and run sbatch scripts/slurm/cpt_paper.sbatch")
    job_id = _submit(dict(env, GPUS_PER_NODE="4"), logs=job_env.logs)
    info = _final(job_id, 120)
    log = _log_path(job_id).read_text()
    assert info["JobState"] == "FAILED" and info["Restarts"] == "0"
    assert "error: cpt.nnodes/nproc_per_node: the allocation is 1 node(s) x 4 GPUs" in log
    assert not run_record.run_dir(cfg, MODEL).exists()
