"""Helpers every benchmark shares (not an entry itself: run.py only runs bench_*.py).

- `paired(sides, repeats)`: the sides run alternately, the order swapped every round (A B, B A, A B),
  so both see the same machine load; each side returns a dict of measurements.
- `ratios(base, ours, key)`: the per-round ratio baseline / ours of one measurement (a time: higher is
  better for ours) with its median and spread (min, max); `stat(values)`: median and spread.
- `timed_process(cmd)`: a whole process under /usr/bin/time -v: wall, CPU and peak RSS.
- `row(...)`: the one-line summary the README table is generated from (definemed.report.bench).
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from typing import Callable

REPEATS = 3
"""Paired rounds per benchmark: the median of 3 is robust to one disturbed round."""


def load() -> float:
    """The 1-minute load average (other jobs on a shared machine slow both sides, not equally)."""
    return round(os.getloadavg()[0], 2)


def _status_kb(field: str) -> float | None:
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> float:
    """Reset this process's peak RSS to its current RSS (Linux: /proc/self/clear_refs 5) and return the
    current RSS in MB, so `peak_rss_mb() - reset_peak_rss()` is the growth caused by what runs in between,
    not a high-water mark left by building the inputs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    import resource

    kb = _status_kb("VmHWM")
    return kb / 1024 if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def paired(sides: dict[str, Callable[[], dict]], repeats: int = REPEATS) -> dict[str, list[dict]]:
    names = list(sides)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(repeats):
        for n in (names if r % 2 == 0 else names[::-1]):
            runs[n].append(sides[n]())
    return runs


def stat(values: list[float], digits: int = 3) -> dict:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


def ratios(base: list[dict], ours: list[dict], key: str, higher_is_better: bool = False, digits: int = 2) -> dict:
    """Per-round ratio of `key`: baseline / ours for times, ours / baseline for rates."""
    rs = [(o[key] / b[key]) if higher_is_better else (b[key] / o[key]) for b, o in zip(base, ours)]
    return stat(rs, digits)


def spread(s: dict, fmt: str = ".2f", unit: str = "") -> str:
    """'7.43x (7.1-7.6x, median of 3)'."""
    return f"{s['median']:{fmt}}{unit} ({s['min']:{fmt}}-{s['max']:{fmt}}{unit}, median of {s['n']})"


def timed_process(cmd: list[str], env: dict | None = None) -> dict:
    """Wall seconds (including start-up), CPU seconds and peak RSS of one process."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {p.stderr[-2000:]}")

    def field(label: str) -> float:
        return float(re.search(rf"{label}: ([\d.]+)", p.stderr).group(1))

    return {"wall_s": wall, "cpu_s": field(r"User time \(seconds\)") + field(r"System time \(seconds\)"),
            "peak_rss_mb": field(r"Maximum resident set size \(kbytes\)") / 1024, "stdout": p.stdout}


def row(measures: str, baseline: str, ours: str, result: str, equal_work: str, target: str, met: bool | None) -> dict:
    """The README row of an entry (strings, formatted here where the numbers are made)."""
    return {"measures": measures, "baseline": baseline, "ours": ours, "result": result, "equal_work": equal_work,
            "target": target, "met": met}
