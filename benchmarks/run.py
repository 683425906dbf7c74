"""Run the benchmarks (`make bench`): every benchmarks/bench_*.py module's `run()` in one process,
results printed as a table and written to build/bench/results.json. Ratios are measured side by side
in the same run; absolute numbers depend on the machine.

    python benchmarks/run.py                # all
    python benchmarks/run.py corpus packing # a selection (module name without bench_)
"""
from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(1, str(HERE.parent))  # tests.factories: the tiny model builders the benchmarks share with the tests

from definemed import io  # noqa: E402


def main(argv: list[str]) -> int:
    modules = sorted(HERE.glob("bench_*.py"))
    if argv:
        modules = [m for m in modules if m.stem.removeprefix("bench_") in argv]
    results = {"machine": {"platform": platform.platform(), "python": platform.python_version()}, "entries": {}}
    for m in modules:
        spec = importlib.util.spec_from_file_location(m.stem, m)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        t0 = time.time()
        print(f"== {m.stem}", flush=True)
        res = mod.run()
        res["bench_wall_s"] = round(time.time() - t0, 1)
        results["entries"][m.stem.removeprefix("bench_")] = res
        for k, v in res.items():
            print(f"   {k:40s} {v}")
    out = HERE.parent / "build" / "bench" / "results.json"
    io.write_json(out, results)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
