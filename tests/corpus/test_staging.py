"""FineWeb2 staged once: `stage-fineweb` copies the hub folder (a local stand-in here) into a folder,
resumes after a failure, and stage 00 then samples from that folder with the network off. An
unreachable hub is one `error:` line and exit 1, after retries; the CLI's fallback handler turns any
network exception no stage wrapped into one line too."""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from definemed.corpus import streaming
from definemed.errors import DefinemedError
from tests.conftest import run_main, write_config
from tests.corpus.test_streaming import HELDOUT, N_DOCS, SAMPLE, hub  # noqa: F401 - the module fixture

REV = "af9c13333eb981300149d5ca60a8e9d659b276b9"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stage_fineweb_copies_once_resumes_and_feeds_stage00_offline(tmp_path, out_root, hub, capsys, monkeypatch):  # noqa: F811
    from definemed import artifacts, stages
    from definemed.config import load_config

    staged = tmp_path / "staged"
    path = write_config(tmp_path / "paper.yaml", corpus={"source": "hub", "hf_revision": REV, "staged_folder": str(staged),
                                                         "sample_docs": SAMPLE, "heldout_general_docs": HELDOUT,
                                                         "shard_size": 64})
    src = hub / "data" / "deu_Latn" / "train"
    r = run_main(capsys, "stage-fineweb", "--profile", path, "--source", src)
    assert r.returncode == 0, r.stderr
    files = sorted(staged.glob("*.parquet"))
    assert [f.name for f in files] == sorted(f.name for f in src.glob("*.parquet"))
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == N_DOCS
    man = streaming.staged_files(staged)
    assert [Path(p).name for p, _ in man] == [f.name for f in files]
    # resumable: a rerun copies nothing; a lost file is copied again, alone
    assert streaming.stage_files(str(src), staged)["n_copied_now"] == 0
    files[1].unlink()
    assert streaming.stage_files(str(src), staged)["n_copied_now"] == 1
    # stage 00 reads the staged folder (not the hub: the endpoint is unreachable and offline mode is on)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = load_config(path)
    assert streaming.stream_source_url(cfg) == str(staged)
    rec = stages.run(cfg, artifacts.CORPUS)
    assert rec["counts"]["n_docs"] == SAMPLE and rec["counts"]["n_source_docs"] == N_DOCS
    # an unfinished staging is refused with the command that finishes it
    (staged / streaming.STAGED_MANIFEST).unlink()
    with pytest.raises(DefinemedError, match="staging is not finished .*stage-fineweb"):
        streaming.stream_source_url(cfg)


def test_unreachable_hub_is_one_line_and_exit_1(tmp_path, out_root):
    path = write_config(tmp_path / "paper.yaml", corpus={"source": "hub", "hf_revision": REV, "sample_docs": 10,
                                                         "heldout_general_docs": 0})
    env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}", "HF_HUB_DISABLE_TELEMETRY": "1",
           "PYTHONPATH": str(Path(streaming.__file__).parents[2]), "DEFINEMED_OUTPUT_ROOT": str(out_root)}
    r = subprocess.run([sys.executable, "-m", "definemed", "corpus", "--profile", str(path)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stderr[-3000:]
    lines = [x for x in r.stderr.splitlines() if x.strip() and " retrying " not in x]
    assert len(lines) == 1 and lines[0].startswith("error: hf://datasets/HuggingFaceFW/fineweb-2@"), r.stderr[-3000:]
    assert "could not read after 3 attempts" in lines[0] and "stage-fineweb" in lines[0]


def test_network_retry_then_success(monkeypatch):
    import httpx2

    monkeypatch.setattr(streaming, "BACKOFF_S", 0.0)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise httpx2.ConnectError("connection refused")
        return "ok"

    assert streaming.with_retry(flaky, "x") == "ok" and len(calls) == 3
    with pytest.raises(DefinemedError, match="x: FileNotFoundError"):
        streaming.with_retry(lambda: open("/no/such/file"), "x")


def test_cli_fallback_handler_network_error_and_abort(tmp_path, out_root, capsys, monkeypatch):
    import httpx2
    import typer

    from definemed import stages

    path = write_config(tmp_path / "c.yaml")

    def unreachable(*a, **k):
        raise httpx2.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(stages, "run", unreachable)
    r = run_main(capsys, "run", "00_corpus", "--profile", path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: network: ConnectError: [Errno 111] Connection refused")

    def abort(*a, **k):
        raise typer.Abort()

    monkeypatch.setattr(stages, "run", abort)
    r = run_main(capsys, "run", "00_corpus", "--profile", path)
    assert r.returncode == 130 and "interrupted" in r.stderr
