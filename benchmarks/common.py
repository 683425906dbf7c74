"""Helpers every benchmark shares (not an entry itself: run.py only runs bench_*.py).

- `paired(sides, repeats)`: the sides run alternately, the order swapped every round (A B, B A, A B),
  so both see the same machine load; each side returns a dict of measurements.
- `ratios(base, ours, key)`: the per-round ratio baseline / ours of one measurement (a time: higher is
  better for ours) with its median, spread (min, max) and the 95 % interval of its geometric mean;
  `stat(values)`: median and spread; `fit_exponent(n, y)`: b of y ~ n^b with its 95 % interval.
- `timed_process(cmd)`: a whole process under /usr/bin/time -v: wall, CPU and peak RSS.
- `row(...)`: the one-line summary the README table is generated from (definemed.report.bench).
"""
from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import time
from typing import Callable

import numpy as np

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
"""Paired rounds per benchmark (issue 31: at least 5, each ratio with its 95 % interval).
`BENCH_REPEATS=2` validates the harness quickly; results measured so are not for publishing."""
QUICK = os.environ.get("BENCH_QUICK") == "1"
"""`BENCH_QUICK=1`: reduced sizes, to validate the harness on a busy machine (never published)."""
MAX_PUBLISH_LOAD = 2.0
"""Entries measured at a higher 1-minute load are not published (run.py refuses)."""

# two-sided 95 % quantiles of Student's t by degrees of freedom (scipy is not a dependency)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom (the next smaller tabulated df
    above 20, which errs on the wide side)."""
    if df < 1:
        return float("nan")
    return _T975[max(k for k in _T975 if k <= df)] if df <= 120 else 1.96


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


def ratio_interval(rs: list[float]) -> tuple[float, float, float]:
    """The geometric mean of paired ratios and its 95 % t-interval (on the logs: a ratio and its
    inverse get mirrored intervals). NaN bounds with fewer than 2 rounds."""
    logs = [math.log(r) for r in rs]
    m = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(m), float("nan"), float("nan")
    h = t975(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def ratios(base: list[dict], ours: list[dict], key: str, higher_is_better: bool = False, digits: int = 2) -> dict:
    """Per-round ratio of `key`: baseline / ours for times, ours / baseline for rates: median, spread
    and the geometric mean with its 95 % interval (`ci95`)."""
    rs = [(o[key] / b[key]) if higher_is_better else (b[key] / o[key]) for b, o in zip(base, ours)]
    g, lo, hi = ratio_interval(rs)
    return {**stat(rs, digits), "geomean": round(g, digits), "ci95": [round(lo, digits), round(hi, digits)],
            "rounds": [round(r, 4) for r in rs]}


def spread(s: dict, fmt: str = ".2f", unit: str = "") -> str:
    """'7.43x (95 % CI 7.1-7.6x, 5 paired rounds)' when the interval is known, else the median and range."""
    ci = s.get("ci95")
    if ci and all(math.isfinite(x) for x in ci):
        return f"{s['median']:{fmt}}{unit} (95 % CI {ci[0]:{fmt}}-{ci[1]:{fmt}}{unit}, {s['n']} paired rounds)"
    return f"{s['median']:{fmt}}{unit} ({s['min']:{fmt}}-{s['max']:{fmt}}{unit}, median of {s['n']})"


def fit_exponent(n: list[float], y: list[float]) -> dict:
    """The exponent b of y ~ n^b by least squares on logs, over every (size, repeat) point, with the 95 %
    t-interval of the slope (df = points - 2)."""
    x, v = np.log(np.asarray(n, float)), np.log(np.asarray(y, float))
    b, a = np.polyfit(x, v, 1)
    k = len(x)
    if k < 3:
        return {"b": round(float(b), 3), "ci95": [float("nan"), float("nan")], "points": k}
    resid = v - (a + b * x)
    se = math.sqrt(float(resid @ resid) / (k - 2) / float(((x - x.mean()) ** 2).sum()))
    h = t975(k - 2) * se
    return {"b": round(float(b), 3), "ci95": [round(float(b - h), 3), round(float(b + h), 3)], "points": k}


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
