"""Run the benchmarks (`make bench`): every benchmarks/bench_*.py module's `run()` in one process,
results printed and written to build/bench/results.json. Ratios are medians of paired, alternating
rounds measured in the same run (benchmarks/common.py); absolute numbers depend on the machine, so
every entry records the 1-minute load average when it started and ended.

    python benchmarks/run.py                # all; then copies the results to benchmarks/results.json and
                                            # regenerates the README table and the docs' benchmark sentences
    python benchmarks/run.py corpus packing # a selection (module name without bench_), merged into
                                            # build/bench/results.json; nothing is published
    python benchmarks/run.py --publish      # publish build/bench/results.json as it is

Publishing refuses (exit 1, naming the entries) results measured with BENCH_QUICK=1, with fewer than 5
paired rounds (BENCH_REPEATS), or at a 1-minute load average above 2 when an entry started or ended:
on a shared machine such numbers are not comparable. `--publish --force` publishes anyway.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(1, str(HERE.parent))  # tests.factories: the tiny model builders the benchmarks share with the tests
sys.path.insert(2, str(HERE))  # common

os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars of the code under test would bury the numbers
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
from common import MAX_PUBLISH_LOAD, QUICK, REPEATS, load  # noqa: E402
from definemed import io  # noqa: E402
from definemed.report import bench as report  # noqa: E402

OUT = HERE.parent / "build" / "bench" / "results.json"


HARNESS = 2
"""Version of the harness (2: issue 31, like-for-like entries with intervals); tests/report/test_bench.py
requires every entry of report.bench.ORDER from this version on."""


def unpublishable(res: dict) -> list[str]:
    """Why `res` must not be published (empty: it may)."""
    why = []
    if res.get("quick"):
        why.append("measured with BENCH_QUICK=1 (reduced sizes)")
    if res.get("repeats", 0) < 5:
        why.append(f"{res.get('repeats')} paired rounds (BENCH_REPEATS; at least 5)")
    for name, e in res["entries"].items():
        loads = [x for x in (e.get("load_1min_start"), e.get("load_1min_end")) if x is not None]
        if loads and max(loads) > MAX_PUBLISH_LOAD:
            why.append(f"{name}: load average {max(loads):.1f} > {MAX_PUBLISH_LOAD:g}")
    return why


def publish(force: bool = False) -> None:
    why = unpublishable(json.loads(OUT.read_text()))
    if why and not force:
        raise SystemExit(f"{OUT}: not published (rerun on a quiet machine, or --publish --force): " + "; ".join(why))
    shutil.copyfile(OUT, report.RESULTS)
    changed = report.update(report.load())
    print(f"published {report.RESULTS}; regenerated: {', '.join(str(p.name) for p in changed) or 'nothing changed'}")


def main(argv: list[str]) -> int:
    if argv in (["--publish"], ["--publish", "--force"]):
        publish(force="--force" in argv)
        return 0
    modules = sorted(HERE.glob("bench_*.py"))
    if argv:
        unknown = set(argv) - {m.stem.removeprefix("bench_") for m in modules}
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        modules = [m for m in modules if m.stem.removeprefix("bench_") in argv]
    results = {"date": datetime.date.today().isoformat(),
               "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
               "harness": HARNESS, "quick": QUICK, "repeats": REPEATS, "entries": {}}
    if argv and OUT.is_file():  # a selection updates the last full run's file (if made alike)
        prev = json.loads(OUT.read_text())
        if (prev.get("harness"), prev.get("quick"), prev.get("repeats")) == (HARNESS, QUICK, REPEATS):
            results["entries"] = prev["entries"]
    for m in modules:
        spec = importlib.util.spec_from_file_location(m.stem, m)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"== {m.stem}", flush=True)
        t0, l0 = time.time(), load()
        res = mod.run()
        res.update(load_1min_start=l0, load_1min_end=load(), bench_wall_s=round(time.time() - t0, 1))
        results["entries"][m.stem.removeprefix("bench_")] = res
        for k, v in res.items():
            if k not in ("row", "prose"):
                print(f"   {k:40s} {v}")
        print(f"   {res.get('prose', '')}", flush=True)
        io.write_json(OUT, results)  # after every entry: a failure later keeps what was measured
    print(f"results: {OUT}")
    if not argv:
        publish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
