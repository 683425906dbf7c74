"""Processes a stage starts die with it (definemed.procs): a stopped block stops its child's whole tree,
the child dies when its parent is SIGKILLed, and the stage lock is held until the last child is gone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from definemed import procs
from definemed.lock import LockedError, output_lock

# a child that starts a grandchild in a session of its own (as torchrun does with its workers), prints
# both pids, then sleeps; the grandchild ignores nothing and sleeps too
TREE = ("import subprocess, sys, time\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
        "print(g.pid, flush=True); time.sleep(120)\n")


def alive(pid: int) -> bool:
    return procs._alive(pid)


def wait_gone(pids, timeout=20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def test_child_block_stopped_by_an_exception_stops_the_whole_tree(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with procs.child([sys.executable, "-c", TREE], grace=5, stdout=subprocess.PIPE, text=True) as p:
            grandchild = int(p.stdout.readline())
            assert os.getpgid(p.pid) == p.pid != os.getpgid(0)  # its own process group
            raise KeyboardInterrupt
    assert p.returncode is not None
    assert wait_gone([p.pid, grandchild]) == []  # the grandchild in another session too


def test_child_gets_sigterm_when_its_parent_is_killed(tmp_path):
    parent = ("import subprocess, sys, time\nfrom definemed import procs\n"
              f"with procs.child([sys.executable, '-c', 'import time; time.sleep(120)']) as p:\n"
              "    print(p.pid, flush=True); time.sleep(120)\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    outer = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, env=env)
    kid = int(outer.stdout.readline())
    assert alive(kid)
    outer.kill()  # SIGKILL: no cleanup code runs in the parent
    outer.wait(10)
    assert wait_gone([kid], 10) == []  # PR_SET_PDEATHSIG


def test_stage_lock_is_held_until_the_last_child_is_gone(tmp_path):
    folder = tmp_path / "data" / "p" / "04_cpt"
    sleeper = [sys.executable, "-c", "import sys, time; print('up', flush=True); time.sleep(float(sys.argv[1]))"]
    with output_lock(folder, "stage 04_cpt"):
        ctx = procs.child(sleeper + ["3"], stdout=subprocess.PIPE, text=True)
        p = ctx.__enter__()
        assert p.stdout.readline().strip() == "up"
    # our own hold has ended, the child still holds the inherited descriptor
    with pytest.raises(LockedError, match="another run of stage 04_cpt is in progress"):
        with output_lock(folder, "stage 04_cpt"):
            pass
    ctx.__exit__(None, None, None)  # waits for the child
    with output_lock(folder, "stage 04_cpt"):
        pass


def test_stop_descendants_reaps_orphans_re_parented_to_a_subreaper(tmp_path):
    script = ("import os, subprocess, sys, time\nfrom definemed import procs\n"
              "procs.become_subreaper()\n"
              # a middle process that starts a grandchild and exits at once: the grandchild is re-parented to us
              "m = subprocess.Popen([sys.executable, '-c', \"import subprocess, sys; "
              "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True); "
              "print(g.pid, flush=True)\"], stdout=subprocess.PIPE, text=True)\n"
              "g = int(m.stdout.readline()); m.wait(); time.sleep(0.3)\n"
              "assert os.getpid() in [procs._parents().get(g)], 'not re-parented'\n"
              "print(g, flush=True); procs.stop_descendants(grace=5)\n"
              "print('alive' if procs._alive(g) else 'gone', flush=True)\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    g, state = out.stdout.split()
    assert state == "gone" and not alive(int(g))


def test_grace_period_from_the_environment_is_checked(monkeypatch):
    from definemed.errors import DefinemedError

    monkeypatch.setenv(procs.GRACE_ENV, "2.5")
    assert procs.grace_s() == 2.5
    monkeypatch.setenv(procs.GRACE_ENV, "soon")
    with pytest.raises(DefinemedError, match="DEFINEMED_STOP_GRACE_S: 'soon'"):
        procs.grace_s()
    monkeypatch.delenv(procs.GRACE_ENV)
    assert procs.grace_s() == procs.DEFAULT_GRACE_S


def test_stop_kills_what_ignores_sigterm():
    p = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                          " print('up', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "up"
    t0 = time.monotonic()
    assert procs.stop([p.pid], grace=1) == [p.pid]  # needed SIGKILL
    assert p.wait(10) == -signal.SIGKILL and time.monotonic() - t0 < 8
