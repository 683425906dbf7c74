"""Progress bars: on at the command line, off in a notebook kernel."""
from __future__ import annotations

import sys
import types

from definemed import progress


def test_bars_on_outside_a_kernel(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # the test suite's own switch
    monkeypatch.delenv(progress.ENV, raising=False)
    assert not progress.in_notebook()
    assert not progress.tqdm(range(3)).disable
    assert progress.tqdm(range(3), disable=True).disable
    seen = []
    monkeypatch.setattr(progress, "_tqdm", lambda *a, **kw: seen.append(kw))
    progress.tqdm(range(3))
    assert seen == [{}], "no explicit disable: TQDM_DISABLE (read by tqdm at import) still decides"


def test_worker_processes_of_a_kernel_inherit_the_switch(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setenv(progress.ENV, "off")  # what quiet_kernel sets before a stage starts workers
    assert not progress.in_notebook() and progress.tqdm(range(3)).disable

def test_bars_off_in_a_kernel(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    assert progress.in_notebook()
    assert progress.tqdm(range(3)).disable


def test_quiet_kernel_switches_the_hub_bars_off(monkeypatch):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.delenv(progress.ENV, raising=False)
    progress.quiet_kernel()
    import os

    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ[progress.ENV] == "off"


def test_in_a_kernel_run_by_the_runner_bars_become_lines_in_its_log(monkeypatch, tmp_path):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    log = tmp_path / "p.log"
    monkeypatch.setenv(progress.LOG_ENV, str(log))
    for _ in progress.tqdm(range(3), desc="models", unit="model", mininterval=0):
        pass
    lines = log.read_text().splitlines()
    assert lines[0].startswith("models:   0%") and lines[-1].startswith("models: 100%") and "3/3" in lines[-1]
    assert all("\r" not in line for line in lines) and len(lines) <= 4, "one line per update at most"


def test_follow_prints_new_complete_lines(tmp_path):
    import io as _io

    log, out = tmp_path / "p.log", _io.StringIO()
    with progress.follow(log, prefix="  zoo: ", out=out, interval=0.05):
        log.write_text("a: 1/2\n")
        import time

        time.sleep(0.3)
        with open(log, "a") as fh:
            fh.write("a: 2/2\nhalf")
    assert out.getvalue().splitlines() == ["  zoo: a: 1/2", "  zoo: a: 2/2"], "a half-written line waits"


def test_progress_line_throttles_and_estimates(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv(progress.ENV, "off")  # a process started by a kernel
    log = tmp_path / "p.log"
    monkeypatch.setenv(progress.LOG_ENV, str(log))
    start = time.time() - 100
    progress.line("run-a", "step 10/100 loss 2.0", start)
    progress.line("run-a", "step 20/100 loss 1.9", start)  # within LOG_INTERVAL: left out
    progress.line("run-a", "step 100/100 loss 1.0", start)  # the last step: always
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("run-a: step 10/100 loss 2.0 [ETA 15:0")
    assert lines[1].startswith("run-a: step 100/100")
    monkeypatch.delenv(progress.LOG_ENV)
    progress.line("run-b", "step 1/2", start)  # no log: nothing, no error
