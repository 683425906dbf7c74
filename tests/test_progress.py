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
