"""Ctrl-C: every command ends with exit code 130 and one line "interrupted; rerun to resume", leaves
no temporary or half-written file, and the rerun resumes to the same result."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from definemed.cli import main
from definemed.labeling.mock_server import MockChatServer
from tests.conftest import write_config
from tests.labeling.helpers import doc_text, register_corpus, write_corpus


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action. A shell without job control
    (`make test &`, CI runners) starts jobs with SIGINT ignored, the ignore is inherited through
    exec, and Python then never raises KeyboardInterrupt: the child would exit 0, not 130."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, out_root):
    env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-m", "definemed", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_default_sigint)


def interrupt_when(p, ready, timeout=60):
    deadline = time.time() + timeout
    while not ready() and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert p.poll() is None, f"finished before it could be interrupted: {p.communicate()}"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


def temporaries(root: Path) -> list[Path]:
    return [f for f in root.rglob(".*") if f.name.endswith((".tmp", ".parquet")) or f.is_dir()]


def test_interrupted_corpus_exits_130_and_resumes(tmp_path, out_root):
    f = write_config(tmp_path / "c.yaml", corpus={"n_docs": 30_000, "shard_size": 2_000, "expert_sample": 50})
    out = out_root / "data" / "test" / "00_corpus"
    rc, _, err = interrupt_when(start(["corpus", "--profile", str(f)], out_root),
                                lambda: len(list(out.glob("shards/*.parquet"))) >= 1)
    assert rc == 130 and err.strip() == "interrupted; rerun to resume"
    assert not temporaries(out_root) and not (out / "stats.json").exists()
    kept = {p.name: p.read_bytes() for p in out.glob("shards/*.parquet")}
    p = subprocess.run([sys.executable, "-m", "definemed", "corpus", "--profile", str(f)], capture_output=True,
                       text=True, env=os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "TQDM_DISABLE": "1"})
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "stats.json").read_text())["n_docs"] == 30_000
    assert all((out / "shards" / n).read_bytes() == b for n, b in kept.items())  # finished shards are final


def test_interrupted_label_exits_130_and_resumes(tmp_path, out_root):
    write_corpus(out_root, [doc_text(i, i % 3 == 0) for i in range(60)])
    parts = out_root / "data" / "test" / "01_label" / "parts"
    n_lines = lambda: sum(len(x.read_text().splitlines()) for x in parts.glob("*.jsonl"))  # noqa: E731
    with MockChatServer(latency_s=0.1) as srv:
        f = write_config(tmp_path / "c.yaml", label={"backend": "openai", "n_docs": 60, "openai": {
            "base_url": srv.base_url, "concurrency": 2}})
        register_corpus(out_root, f)
        rc, _, err = interrupt_when(start(["label", "--profile", str(f)], out_root), lambda: n_lines() >= 6)
        assert rc == 130 and err.strip() == "interrupted; rerun to resume"
        assert not (parts.parent / "labels.parquet").exists() and not temporaries(out_root)
        before = n_lines()
        p = start(["label", "--profile", str(f)], out_root)
        out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert f"({before} resumed)" in out
    ids = [json.loads(x)["id"] for q in parts.glob("*.jsonl") for x in q.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 60  # nothing lost, nothing asked twice
    assert len(pd.read_parquet(parts.parent / "labels.parquet")) == 60


def test_main_turns_returned_exit_codes_into_the_process_exit_code(monkeypatch, capsys):
    import pytest
    import typer

    from definemed import cli

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("definemed.config.load_config", boom)
    with pytest.raises(SystemExit) as e:
        main(["validate-config", "tiny"])
    assert e.value.code == 130 and capsys.readouterr().err == "interrupted; rerun to resume\n"

    @cli.app.command("exit-three-for-test", hidden=True)
    def _three() -> None:
        raise typer.Exit(3)

    try:
        with pytest.raises(SystemExit) as e:
            main(["exit-three-for-test"])
        assert e.value.code == 3
    finally:
        cli.app.registered_commands = [c for c in cli.app.registered_commands if c.name != "exit-three-for-test"]


def test_sigterm_exits_143_with_one_line_and_resumes(tmp_path, out_root):
    """The probe: SIGTERM exited 143 with nothing on stderr."""
    f = write_config(tmp_path / "c.yaml", corpus={"n_docs": 30_000, "shard_size": 2_000, "expert_sample": 50})
    out = out_root / "data" / "test" / "00_corpus"
    p = start(["corpus", "--profile", str(f)], out_root)
    deadline = time.time() + 120
    while not list(out.glob("shards/*.parquet")) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert p.poll() is None, p.communicate()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and err.strip() == "terminated (SIGTERM); rerun to resume", err
    assert not temporaries(out_root) and not (out / "stats.json").exists()
