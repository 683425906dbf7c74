"""Child processes die with the stage that started them (issue 29, item 1).

A stage starts processes of its own: `torchrun` and its workers (04_cpt), the zoo's build workers,
papermill's notebook kernel. Each of them

- runs in its own process group (`start_new_session`), so a terminal's Ctrl-C reaches only the
  parent, which then stops the group in order: SIGTERM, a grace period long enough for a
  checkpoint (training workers checkpoint on SIGTERM), then SIGKILL;
- gets SIGTERM when its parent dies, even by SIGKILL (`PR_SET_PDEATHSIG`, Linux `prctl(2)` through
  ctypes: the standard library has no binding and psutil cannot set it);
- inherits the stage's lock descriptor (`definemed.lock.held_fds`), so the lock is held until the
  last process holding it is gone and a rerun started at once is refused instead of racing a
  still-checkpointing torchrun;

and the command-line process is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a grandchild whose
parent died (torchrun after a killed kernel) is re-parented to it, and the command stops and reaps
every descendant before it exits (`stop_descendants`). Descendants are read from /proc (Linux only,
as prctl is; 15 lines instead of a new dependency).

    with procs.child([sys.executable, "-m", "torch.distributed.run", ...], stdout=PIPE) as p:
        for line in p.stdout: ...
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
import time
from typing import Iterator

GRACE_ENV = "DEFINEMED_STOP_GRACE_S"
DEFAULT_GRACE_S = 90.0
"""SIGTERM -> SIGKILL: torchrun gives its workers 30 s after SIGTERM, a worker checkpoints at its next
step (a CPT step of the paper profile takes a few seconds, an FSDP checkpoint of 1.5B parameters under
a minute); 90 s covers both with a margin."""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def grace_s() -> float:
    """The SIGTERM -> SIGKILL grace period in seconds ($DEFINEMED_STOP_GRACE_S, default 90)."""
    raw = os.environ.get(GRACE_ENV)
    if raw is None:
        return DEFAULT_GRACE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 <= value < 86_400):
        from definemed.errors import DefinemedError

        raise DefinemedError(f"${GRACE_ENV}: {raw!r} is not a number of seconds between 0 and 86400")
    return value


def _prctl(option: int, arg: int) -> bool:
    """prctl(option, arg); False where there is no prctl (not Linux)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        return libc.prctl(option, arg, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies. When the parent is
    already gone (it died between fork and this call: we were re-parented), send it now."""
    if _prctl(_PR_SET_PDEATHSIG, int(sig)) and parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (not to init), so it can stop them."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _child_setup(parent: int) -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(signal.SIGTERM, parent)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc/<pid>/stat)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it ended while we looked
        # the command name (field 2) is in parentheses and may contain spaces: parse after the last ')'
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields and fields[0] != b"Z":  # zombies are gone already; they only wait to be reaped
            out[int(entry)] = int(fields[1])
    return out


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children first)."""
    parents = _parents()
    kids: dict[int, list[int]] = {}
    for p, pp in parents.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] != b"Z"


def _reap() -> None:
    """Collect exited children of this process (zombies), without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal(pids: list[int], sig: int) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


def stop(pids: list[int], grace: float | None = None, first: int = signal.SIGTERM, reap: bool = False) -> list[int]:
    """Send `first` to `pids`, wait up to `grace` seconds for them to end, SIGKILL what is left;
    returns the pids that needed SIGKILL. `reap` collects our own exited children meanwhile."""
    grace = grace_s() if grace is None else grace
    _signal(pids, first)
    deadline = time.monotonic() + grace
    while True:
        if reap:
            _reap()
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    _signal(left, signal.SIGKILL)
    if reap:
        end = time.monotonic() + 5
        while time.monotonic() < end and any(_alive(p) for p in left):
            _reap()
            time.sleep(0.05)
    return left


def _is_resource_tracker(pid: int) -> bool:
    """multiprocessing's resource tracker ignores SIGTERM by design and ends by itself when this process
    ends (EOF on its pipe), after freeing what the workers leaked; killing it would leak them."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"multiprocessing.resource_tracker" in f.read()
    except OSError:
        return False


def stop_descendants(grace: float | None = None) -> list[int]:
    """Stop every process below this one (SIGTERM, grace, SIGKILL) and reap them; new descendants
    re-parented to us meanwhile (we are a subreaper) are stopped too."""
    killed: list[int] = []
    for _ in range(3):
        pids = [p for p in descendants(os.getpid()) if not _is_resource_tracker(p)]
        if not pids:
            break
        killed += stop(pids, grace, reap=True)
    _reap()
    return killed


def _drain(stream, sink) -> None:
    with contextlib.suppress(Exception):
        for line in stream:
            if sink is not None:
                sink(line)


@contextlib.contextmanager
def child(cmd: list[str], grace: float | None = None, drain=None, **popen_kwargs) -> Iterator[subprocess.Popen]:
    """Start `cmd` in its own process group, dying with us and holding our locks (see the module
    docstring). On leaving the block by an exception (Ctrl-C, SIGTERM, an error) the group and its
    descendants are stopped (SIGTERM, grace, SIGKILL) before the exception goes on, so a stage lock
    around the block is held until they are gone. Meanwhile its piped stdout is read on (passed to
    `drain`, or dropped), so a worker printing while it checkpoints never blocks on a full pipe."""
    from definemed.lock import held_fds

    parent = os.getpid()
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=lambda: _child_setup(parent),
                            pass_fds=tuple(held_fds()), **popen_kwargs)
    try:
        yield proc
    except BaseException:
        if proc.stdout is not None:
            threading.Thread(target=_drain, args=(proc.stdout, drain), daemon=True).start()
        tree = [proc.pid] + descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        stop(tree, grace)  # torchrun stops its workers on SIGTERM; the rest get it here
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        if proc.poll() is None:  # the block ended without waiting for it
            proc.wait()
