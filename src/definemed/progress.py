"""Progress bars: on at the command line; in a notebook kernel, lines in the terminal that runs it.

An executed notebook stores every redraw of a text progress bar as a separate stderr output (a
benchmark loop gave 06 about 2,000 of them), and `tqdm.auto` warns in every kernel without
ipywidgets. So every stage loop uses `definemed.progress.tqdm`:
- on a terminal, the plain `tqdm.std` bar;
- in a kernel started by `definemed run-notebook` (which sets DEFINEMED_PROGRESS_LOG), a bar that
  appends one plain line per update (at most one per LOG_INTERVAL seconds, with its rate and ETA) to
  that log file; the runner prints each new line to its own stderr while the notebook executes
  (`follow`), so `make reproduce` shows "zoo: qwen-tiny pretrain:  40%|####  | 400/1000 [01:10<01:45]"
  and the executed notebook stays free of bars;
- in any other kernel (JupyterLab), no bar.
`import definemed` in a kernel also turns off the bars of the libraries the stages call
(huggingface_hub, transformers, datasets) and the widget warning of `tqdm.auto` (`quiet_kernel`).
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from tqdm.std import TqdmWarning
from tqdm.std import tqdm as _tqdm


def in_notebook() -> bool:
    """True inside a Jupyter kernel (papermill, JupyterLab), False on the command line and in tests."""
    return "ipykernel" in sys.modules and "ipykernel.zmqshell" in sys.modules


ENV = "DEFINEMED_PROGRESS"
"""'off' turns the bars off; a kernel sets it, so the processes a stage starts from a notebook (the
zoo's build workers, torchrun) inherit it."""


def quiet() -> bool:
    return in_notebook() or os.environ.get(ENV) == "off"


LOG_ENV = "DEFINEMED_PROGRESS_LOG"
"""Path of the progress log a kernel (and the worker processes it starts) appends bar lines to."""
LOG_INTERVAL = 10.0
"""Seconds between two lines of one bar in the log: a 13-minute stage prints about 80 lines, not 8,000."""


class _LineFile:
    """A file for tqdm that turns each redraw ('\\r' + status) into one line appended to `path`
    (a short `O_APPEND` write: lines of several processes do not interleave)."""

    def __init__(self, path: str):
        self.path = path

    def write(self, s: str) -> None:
        line = s.replace("\r", "").strip()
        if line:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def flush(self) -> None:
        pass


def tqdm(*args, **kwargs):
    """`tqdm.std.tqdm` on a terminal; in a kernel, lines to the runner's progress log when there is
    one (DEFINEMED_PROGRESS_LOG), else disabled; the caller and TQDM_DISABLE decide otherwise."""
    if quiet():
        log = os.environ.get(LOG_ENV)
        if log and not kwargs.get("disable"):
            kwargs.update(file=_LineFile(log), mininterval=max(kwargs.get("mininterval", 0.0), LOG_INTERVAL),
                          ascii=True, ncols=96, dynamic_ncols=False)
        else:
            kwargs["disable"] = True
    return _tqdm(*args, **kwargs)


_last_line: dict[str, float] = {}
_STEP = re.compile(r"step (\d+)/(\d+)")


def line(key: str, text: str, start: float | None = None) -> None:
    """Under `definemed run-notebook` (a kernel with a progress log): append `key: text` to the log,
    at most once per LOG_INTERVAL seconds per key (always the last step of a "step N/M" text), with an
    ETA when `text` says "step N/M" and `start` (time.time() at step 0) is given. For work whose
    output the stage only echoes into the notebook (the torchrun workers of stage 04)."""
    log = os.environ.get(LOG_ENV)
    if not (log and quiet()):
        return
    now = time.time()
    m = _STEP.search(text)
    last = m is not None and m.group(1) == m.group(2)
    if not last and now - _last_line.get(key, 0.0) < LOG_INTERVAL:
        return
    _last_line[key] = now
    eta = ""
    if m and start is not None and int(m.group(1)) > 0:
        done, total = int(m.group(1)), int(m.group(2))
        eta = f" [ETA {_tqdm.format_interval((now - start) / done * (total - done))}]"
    _LineFile(log).write(f"{key}: {text}{eta}")


@contextmanager
def follow(path: Path, prefix: str, out=None, interval: float = 0.5):
    """While the block runs, print every new line of `path` (a progress log) to `out` (stderr),
    prefixed; tqdm.write keeps a bar drawn on the same terminal (papermill's cell bar) intact."""
    out = out or sys.stderr
    stop = threading.Event()
    pos = [0]

    def pump() -> None:
        try:
            with open(path, "rb") as fh:
                fh.seek(pos[0])
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # complete lines only; a half-written one waits for the next poll
        pos[0] += end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            _tqdm.write(f"{prefix}{line}", file=out)

    def loop() -> None:
        while not stop.wait(interval):
            pump()

    t = threading.Thread(target=loop, daemon=True, name="progress-follow")
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        pump()


def clock() -> str:
    return time.strftime("%H:%M:%S")


def quiet_kernel() -> None:
    """In a notebook kernel: no library progress bars and no widget warning (before those libraries load)."""
    os.environ[ENV] = "off"  # inherited by worker processes, whose output the kernel captures too
    # huggingface_hub reads this once at import; transformers and datasets follow huggingface_hub's switch
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # datasets' "Generating ... split" bars
    # huggingface_hub and datasets import tqdm.auto, which warns in a kernel without ipywidgets; the
    # bars it would draw as widgets are disabled here anyway, so the warning does not apply
    warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)


if in_notebook():
    quiet_kernel()
