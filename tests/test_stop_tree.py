"""`kill -TERM` of the command line, of `run-notebook` and of `make` while a stage runs child processes
(torchrun and its workers; the zoo's build workers; the notebook kernel): exit 143 with one line, and
after the grace period no process of the stage is left, checked by process group (every group a process
of the tree was in is empty)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from definemed import paths, procs
from tests.conftest import SMALL_CORPUS, write_config

GRACE = 20
# long enough that they are still running when they are stopped
LONG_ZOO = {
    "vocab_size": 512, "glossary_repeats": 20, "tokenizer_docs": 200, "seq_len": 64, "batch_size": 4,
    "small": {"hidden_size": 32, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 64},
    "reference": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 128},
    "pretrain_steps_small": 100_000, "pretrain_steps_reference": 100_000, "sft_steps": 3, "warmup_steps": 1,
    "n_sft_dialogues": 40, "n_format_prompts": 3, "max_new_tokens": 4, "eval_tokens": 256, "workers": 2,
}


def _env(out_root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    return env | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "TQDM_DISABLE": "1", procs.GRACE_ENV: str(GRACE),
                  "PYTHONPATH": str(paths.ROOT / "src")}


def _groups(pids) -> set[int]:
    out = set()
    for p in pids:
        try:
            out.add(os.getpgid(p))
        except ProcessLookupError:
            pass
    return out


def _group_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def stop_and_check(proc: subprocess.Popen, ready, what: str, timeout: float = 480) -> tuple[int, str]:
    """Wait until `ready(tree)` (the list of descendant pids), SIGTERM `proc`, then check its whole tree
    is gone within the grace period; returns (exit code, stderr)."""
    deadline = time.monotonic() + timeout
    tree: list[int] = []
    while time.monotonic() < deadline and proc.poll() is None:
        tree = procs.descendants(proc.pid)
        if ready(tree):
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"{what}: ended before it could be stopped: {_ERR[proc.pid].read_text()[-3000:]}"
    time.sleep(1.0)
    tree = procs.descendants(proc.pid)
    assert ready(tree), f"{what}: children never started ({tree})"
    groups = _groups(tree) - {os.getpgid(0)}
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=GRACE * 3 + 30)
    left = [g for g in groups if not _group_empty(g)]
    alive = [p for p in tree if procs._alive(p)]
    assert not left and not alive, f"{what}: left running: groups {left}, pids {alive}"
    return proc.returncode, _ERR[proc.pid].read_text()


_ERR: dict[int, Path] = {}


def start(cmd: list[str], env: dict, log_dir: Path) -> subprocess.Popen:
    """`cmd` with stdout / stderr to files (a pipe nobody reads would fill and block the command)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "out.txt", "w") as out, open(log_dir / "err.txt", "w") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
    _ERR[p.pid] = log_dir / "err.txt"
    return p


def _cmdlines(pids) -> list[str]:
    out = []
    for p in pids:
        try:
            out.append(Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass
    return out


def _zoo_workers(tree) -> bool:
    return sum("multiprocessing" in c for c in _cmdlines(tree)) >= 2


def _zoo_config(tmp_path: Path, out_root: Path, where: Path | None = None) -> Path:
    from definemed.cli import run_stage

    f = write_config(where or tmp_path / "long.yaml", corpus=SMALL_CORPUS, zoo=LONG_ZOO)
    old = os.environ.get("DEFINEMED_OUTPUT_ROOT")
    os.environ["DEFINEMED_OUTPUT_ROOT"] = str(out_root)
    try:
        run_stage("00_corpus", str(f))  # stage 00 with its manifest (make's prerequisite)
    finally:
        if old is None:
            os.environ.pop("DEFINEMED_OUTPUT_ROOT")
        else:
            os.environ["DEFINEMED_OUTPUT_ROOT"] = old
    return f


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines and lines[-1] == "terminated (SIGTERM); rerun to resume", err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    return lines[-1]


def test_sigterm_to_the_cli_during_training_stops_torchrun_and_its_workers(tmp_path):
    from tests.training.test_training import _spec, setup  # noqa: F401 - the fixture's builder

    from definemed.packing import TokenFile, plan_packing, write_token_file
    from tests.factories import tiny_model
    import numpy as np

    d = tmp_path / "cpt"
    tiny_model(d / "model", "qwen2", vocab_size=128, hidden=32, layers=2, seed=0)
    rng = np.random.default_rng(0)
    docs = [3 + rng.integers(0, 125, int(n)) for n in rng.integers(5, 60, 200)]
    write_token_file(iter(docs), d / "tokens")
    plan_packing(TokenFile(d / "tokens").lengths, 64, seed=1).save(d / "plan.npz")
    spec = _spec(d, "long", steps=100_000, checkpoint_every=0, log_every=1)
    spec_file = spec.write(tmp_path / "run.json")
    p = start([sys.executable, "-m", "definemed", "train", str(spec_file), "--nproc", "2"], _env(tmp_path / "out"),
              tmp_path / "logs")
    metrics = d / "long" / "metrics.jsonl"
    rc, err = stop_and_check(p, lambda t: sum("definemed.training.worker" in c for c in _cmdlines(t)) >= 3
                             and metrics.is_file() and metrics.stat().st_size > 0, "train")
    assert rc == 143
    _one_line(err)
    assert (d / "long" / "checkpoints").is_dir()  # the workers checkpointed on SIGTERM before ending


@pytest.mark.parametrize("how", ["run", "run-notebook"])
def test_sigterm_during_the_zoo_stops_its_build_workers(tmp_path, how):
    out_root = tmp_path / "out"
    f = _zoo_config(tmp_path, out_root)
    args = ["run", "zoo", "--profile", str(f)] if how == "run" else ["run-notebook", "zoo", "--profile", str(f)]
    p = start([sys.executable, "-m", "definemed", *args], _env(out_root), tmp_path / "logs")
    rc, err = stop_and_check(p, _zoo_workers, how)
    assert rc == 143
    _one_line(err)
    # the lock is free again and nothing was recorded done
    from definemed.lock import output_lock

    with output_lock(out_root / "data" / "test" / "zoo"):
        pass
    assert not (out_root / "data" / "test" / "manifests" / "zoo.json").exists()


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("git") is None, reason="needs make and git")
def test_sigterm_to_make_during_the_zoo_reaches_the_whole_tree(tmp_path):
    from tests.test_makefile import fake_venv

    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=paths.ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = paths.ROOT / rel
        if src.is_file() and not rel.startswith(("tests/", "docs/", "benchmarks/")):
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    fake_venv(clone)
    _zoo_config(tmp_path, clone, where=clone / "configs" / "test.yaml")
    env = _env(clone)
    env["PYTHONPATH"] = str(clone / "src")
    subprocess.run(["make", "-C", str(clone), "PROFILE=test", "build/test/deps.mk"], env=env, capture_output=True, check=True)
    (clone / "data" / "test" / "manifests" / "00_corpus.json").touch()
    p = start(["make", "-C", str(clone), "PROFILE=test", "data/test/manifests/zoo.json"], env, tmp_path / "logs")
    rc, err = stop_and_check(p, _zoo_workers, "make")
    assert rc != 0
    assert "terminated (SIGTERM); rerun to resume" in err and "Traceback" not in err, err[-3000:]
