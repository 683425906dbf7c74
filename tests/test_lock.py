"""One lock per stage output: a second run of the same stage refuses with one line while the first
runs (no document labelled twice), holds no lock after the first ends, and a killed holder leaves none."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from definemed.errors import DefinemedError
from definemed.labeling.mock_server import MockChatServer
from definemed.lock import LockedError, lock_file, output_lock
from tests.conftest import write_config
from tests.labeling.helpers import doc_text, register_corpus, write_corpus

HOLD = "import sys, time; from definemed.lock import output_lock\nwith output_lock(sys.argv[1]):\n" \
       "    print('held', flush=True); time.sleep(60)\n"


def test_lock_refuses_waits_and_is_released_by_a_killed_holder(tmp_path):
    folder = tmp_path / "data" / "p" / "01_label"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=rf"\.01_label\.lock: another run of stage X is in progress \(pid {p.pid}\)"):
            with output_lock(folder, "stage X"):
                pass
        t0 = time.monotonic()
        with pytest.raises(DefinemedError):
            with output_lock(folder, wait_s=1.0):
                pass
        assert time.monotonic() - t0 >= 1.0  # waited before refusing
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    with output_lock(folder) as f:  # the kernel released the killed holder's lock
        assert f == lock_file(folder) and f.read_text().strip() == str(os.getpid())
    assert not folder.exists()  # the lock lives beside the output folder, not in it


def test_second_label_run_refuses_and_nothing_is_labelled_twice(tmp_path, out_root):
    write_corpus(out_root, [doc_text(i, i % 3 == 0) for i in range(40)])
    parts = out_root / "data" / "test" / "01_label" / "parts"
    env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "TQDM_DISABLE": "1"}
    with MockChatServer(latency_s=0.5) as srv:  # 40 documents, 2 in flight: the first run takes 10 s
        f = write_config(tmp_path / "c.yaml", label={"backend": "openai", "n_docs": 40, "openai": {
            "base_url": srv.base_url, "concurrency": 2}})
        register_corpus(out_root, f)
        cmd = [sys.executable, "-m", "definemed", "label", "--profile", str(f)]
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 60
        while not any(parts.glob("*.jsonl")) and time.time() < deadline:
            time.sleep(0.05)
        second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert first.poll() is None, "the first run ended before the second started"
        out, err = first.communicate(timeout=120)
    assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
    assert "another run of stage 01_label (profile test) is in progress" in second.stderr
    assert first.returncode == 0, err
    ids = [json.loads(x)["id"] for q in parts.glob("*.jsonl") for x in q.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 40 and srv.requests == 40  # the server was asked once per document
    assert len(pd.read_parquet(parts.parent / "labels.parquet")) == 40
