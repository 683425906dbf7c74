"""One lock file per stage output: a second run of the same stage on the same profile refuses at once
(or waits, if asked) instead of doing the work twice next to the first (two `label` runs would pay the
annotation server twice for nearly every document).

    with output_lock(stage_dir, what="stage 01_label"):
        ...

The lock is `fcntl.flock` on `<parent>/.<folder>.lock`, next to the folder rather than inside it (a
stage clears its folder when its inputs change). The kernel releases it when the process ends, even
on SIGKILL, so a crashed run never leaves a stale lock; the file itself stays (it holds the pid of the
last holder, for the message) and is never treated as an output.

The processes a stage starts through `definemed.procs.child` (torchrun) inherit the lock's
descriptor (`held_fds`): a flock belongs to the open file, so the lock stays held until the last
of them is gone, even when the stage's own process was killed first.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from definemed.errors import DefinemedError

POLL_S = 0.5
_HELD: set[int] = set()


def held_fds() -> set[int]:
    """Descriptors of the locks this process holds now (passed on to the children it starts)."""
    return set(_HELD)


class LockedError(DefinemedError):
    """Another process holds the lock of this output."""


def lock_file(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike, what: str | None = None, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the lock of `folder` for the block; LockedError (one line, naming the lock file and the
    holder's pid) if another process holds it for longer than `wait_s` seconds (0: refuse at once)."""
    f = lock_file(folder)
    f.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise LockedError(f"{f}: another run of {what or Path(folder).name} is in progress "
                                      f"(pid {holder}); wait for it to finish, or stop it, then rerun") from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD.add(fd)
        yield f
    finally:
        _HELD.discard(fd)
        os.close(fd)  # closing the descriptor releases the flock
