"""The Slurm path on CPU: `scripts/slurm/cpt_paper.sbatch` run by bash with a fake `srun` (runs
the command once, as the single node) and a fake `scontrol` (hostnames, requeue recorded). The
first job is stopped as at the time limit (a STOP request), checkpoints and requeues itself; the
requeued job resumes and publishes; then stage 04 through the stage runner (the make / notebook
path) reuses the run and deletes nothing; a changed config is refused without deleting the run."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from definemed import artifacts, paths, stages
from definemed.config import load_config
from definemed.errors import DefinemedError
from tests.conftest import SMALL_CORPUS, make_corpus, write_config

MODEL = "qwen2.5-7b-tiny"

FAKE_SRUN = """#!/bin/bash
# fake srun: drop srun's own options, run the command once (one node)
while [[ "$1" == --* ]]; do shift; done
if [ -n "${FAKE_STOP_FILE:-}" ]; then touch "$FAKE_STOP_FILE"; fi  # the time-limit signal, early
exec "$@"
"""
FAKE_SCONTROL = """#!/bin/bash
if [ "$1" = show ]; then echo localhost; exit 0; fi
echo "$@" >> "$FAKE_SLURM_LOG"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def slurm_env(tmp_path, out_root):
    cpt = {"seq_len": 64, "micro_batch_size": 1, "global_batch": 4, "steps": 4, "warmup_steps": 1,
           "checkpoint_every": 2, "heldout_docs": 5, "nproc_per_node": 2, "nnodes": 1, "dp_replicate": 1,
           "log_every": 1, "launcher": "slurm", "on_settings_change": "refuse", "cluster": {"gpu": None}}
    models = {"foundations": [{"name": MODEL, "architecture": "qwen2", "role": "small"}]}
    cfg_file = write_config(tmp_path / "slurm.yaml", corpus=SMALL_CORPUS, cpt=cpt, models=models)
    cfg = load_config(cfg_file)
    from definemed.training import stage
    from tests.factories import tiny_model

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
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, body in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (fake / name).write_text(body)
        (fake / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", MODEL=MODEL, PROFILE=str(cfg_file),
               GPUS_PER_NODE="2", SLURM_NNODES="1", SLURM_JOB_ID="4242", SLURM_JOB_NODELIST="localhost",
               RDZV_PORT=str(_free_port()), REPO=str(paths.ROOT), PY=sys.executable,
               FAKE_SLURM_LOG=str(tmp_path / "scontrol.log"), OMP_NUM_THREADS="1")
    return cfg_file, cfg, env, tmp_path


def _sbatch(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(paths.ROOT / "scripts" / "slurm" / "cpt_paper.sbatch")], env=env,
                          capture_output=True, text=True, timeout=600)


def _snapshot(root: Path) -> dict:
    import hashlib

    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in root.rglob("*") if f.is_file()}


def test_slurm_job_requeues_resumes_publishes_and_the_stage_reuses_it(slurm_env):
    from definemed.training import run_record, stage

    cfg_file, cfg, env, tmp = slurm_env
    run = run_record.run_dir(cfg, MODEL)
    # job 1: the time limit comes (STOP written as the trap does): checkpoint, exit 0, requeue
    first = _sbatch(dict(env, FAKE_STOP_FILE=str(run / "STOP")))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "requeueing job 4242" in first.stdout
    assert (tmp / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert (run / "checkpoints" / "step-0000001" / "COMPLETE").is_file() and not (run / "STOP").exists()
    assert not stage.cpt_model_dir(cfg, MODEL).exists()
    # job 2 (the requeued job): resumes from step 1, finishes, publishes
    second = _sbatch(env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from step-0000001" in second.stdout + second.stderr
    assert f"published {stage.cpt_model_dir(cfg, MODEL)}" in second.stdout
    assert (tmp / "scontrol.log").read_text().split() == ["requeue", "4242"]  # no second requeue
    out = stage.cpt_model_dir(cfg, MODEL)
    record = run_record.read_record(cfg, MODEL)
    assert record["steps"] == 4 and (out / "README.md").read_text().count("FineMed-de") >= 1
    # the make / notebook path: the stage runner resumes the stage the job claimed, reuses the run,
    # launches nothing and deletes nothing
    before = _snapshot(stage.stage_dir(cfg))
    rec = stages.run(cfg, artifacts.CPT)
    after = _snapshot(stage.stage_dir(cfg))
    assert rec["counts"]["steps"] == {MODEL: 4} and rec["counts"]["final_loss"] == {MODEL: record["final_loss"]}
    changed_files = sorted(k for k in before if after.get(k) != before[k])
    assert changed_files == [], changed_files  # every file kept, same content
    assert not (run / "train.log").exists()  # no local torchrun was started
    from definemed.training.plan import plan_vs_run

    for row in plan_vs_run(cfg, MODEL):  # the plan's numbers are the run's (CPU plan, fp32)
        assert row["plan"] == row["run"], row
    # a logging key is operational: the stage stays done, nothing runs or moves
    louder = load_config(write_config(cfg_file, "tiny", corpus=SMALL_CORPUS, models={"foundations": [
        {"name": MODEL, "architecture": "qwen2", "role": "small"}]}, cpt={**cfg.cpt.model_dump(mode="json"), "log_every": 3}))
    assert stages.is_done(louder, artifacts.CPT)
    # another config (lr) under on_stage_change: refuse: one line naming the key, nothing moved or deleted
    changed = load_config(write_config(cfg_file, "tiny", corpus=SMALL_CORPUS, models={"foundations": [
        {"name": MODEL, "architecture": "qwen2", "role": "small"}]}, cpt={**cfg.cpt.model_dump(mode="json"), "lr": cfg.cpt.lr * 2},
        on_stage_change="refuse"))
    with pytest.raises(DefinemedError, match=r"config key cpt\.lr; .*adopt 04_cpt"):
        stages.run(changed, artifacts.CPT)
    assert {k: v for k, v in _snapshot(stage.stage_dir(cfg)).items() if k in after} == after


def test_slurm_allocation_other_than_the_config_is_refused_before_any_work(slurm_env):
    _, cfg, env, _ = slurm_env
    res = _sbatch(dict(env, SLURM_NNODES="4"))
    assert res.returncode == 1
    assert "error: cpt.nnodes/nproc_per_node: the allocation is 4 node(s) x 2 GPUs" in res.stderr
    from definemed.training import run_record

    assert not run_record.run_dir(cfg, MODEL).exists()
