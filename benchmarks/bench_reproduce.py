"""Reproduce time as a benchmark: what a tiny `make reproduce` cost, stage by stage, read from its records.

Nothing is run here: the entry reads the finished tiny run of this checkout,
- `data/tiny/<stage>/_stage.json`: the stage's own wall time (`wall_time_s`) and, from issue 31 on,
  its CPU time (`cpu_time_s`: user + system of the notebook kernel that ran it and of its finished
  children, e.g. torchrun workers) and the 1-minute load average when it started and ended;
- `data/tiny/manifests/<stage>.json`: the wall time of the notebook that ran the stage
  (`notebook.wall_time_s`: the stage plus kernel start-up, imports and the notebook's own cells),
so the sum over notebooks is the whole run but for make's own start-up. Target (issue 31): the whole
tiny run at most 35 minutes on 2 idle cores. Run `make reproduce` first (on an idle machine: the load
of every stage is recorded and shown); `BENCH_REPRODUCE_DATA=<folder>` reads another run's data/tiny.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT / "benchmarks"))
from common import row  # noqa: E402

TARGET_MIN = 35.0
IDLE_LOAD = 2.0


def _minutes(s: float) -> str:
    return f"{int(s // 60)} min {int(round(s % 60)):02d} s" if s >= 60 else f"{s:.0f} s"


def read_run(data: Path) -> dict:
    """Per-stage records of the tiny run in `data` (data/tiny); an error naming what is missing."""
    from definemed import artifacts
    from definemed.errors import DefinemedError

    stages, missing = [], []
    for name in artifacts.ORDER:
        rec_file, man_file = data / name / "_stage.json", data / "manifests" / f"{name}.json"
        if not rec_file.is_file():
            missing.append(name)
            continue
        rec = json.loads(rec_file.read_text(encoding="utf-8"))
        man = json.loads(man_file.read_text(encoding="utf-8")) if man_file.is_file() else {}
        nb = (man.get("notebook") or {}).get("wall_time_s")
        stages.append({"stage": name, "wall_s": rec["wall_time_s"], "cpu_s": rec.get("cpu_time_s"),
                       "notebook_wall_s": nb, "load_1min_start": rec.get("load_1min_start"),
                       "load_1min_end": rec.get("load_1min_end"), "finished_at": rec.get("finished_at")})
    if missing:
        raise DefinemedError(f"{data}: no finished tiny run (stage records missing: {', '.join(missing)}); "
                             "run `make reproduce` first")
    return {"stages": stages}


def run() -> dict:
    data = Path(os.environ.get("BENCH_REPRODUCE_DATA") or ROOT / "data" / "tiny")
    st = read_run(data)["stages"]
    wall = sum(s["wall_s"] for s in st)
    cpu = sum(s["cpu_s"] for s in st) if all(s["cpu_s"] is not None for s in st) else None
    nb = sum(s["notebook_wall_s"] for s in st) if all(s["notebook_wall_s"] is not None for s in st) else None
    total = nb if nb is not None else wall
    loads = [x for s in st for x in (s["load_1min_start"], s["load_1min_end"]) if x is not None]
    max_load = max(loads) if loads else None
    idle = max_load is not None and max_load <= IDLE_LOAD
    met = bool(total <= TARGET_MIN * 60 and idle) if nb is not None else None
    short = {s["stage"]: s["stage"].split("_")[0] for s in st}
    per_stage = ", ".join(f"{short[s['stage']]} {s['wall_s']:.0f} s"
                          + (f" (CPU {s['cpu_s']:.0f} s)" if s["cpu_s"] is not None else "") for s in st)
    load_txt = (f"load average at most {max_load:.1f} during the stages" if max_load is not None
                else "load not recorded (records made before issue 31)")
    missed = []
    if met is False:
        if total > TARGET_MIN * 60:
            missed.append(f"{_minutes(total)} > {TARGET_MIN:g} min")
        if not idle:
            missed.append(f"not idle ({load_txt})")
    finished = max((s["finished_at"] or "") for s in st) or "?"
    return {
        "data": str(data), "stages": st, "stage_wall_s": round(wall, 1), "stage_cpu_s": None if cpu is None else round(cpu, 1),
        "notebook_wall_s": None if nb is None else round(nb, 1), "run_finished_at": finished,
        "max_stage_load": max_load, "target_minutes": TARGET_MIN, "meets_target": met, "missed": missed,
        "row": row("wall and CPU time of the tiny `make reproduce`, per stage, from its stage records",
                   "—",
                   f"{_minutes(total)} in notebooks" + (f", CPU {_minutes(cpu)}" if cpu is not None else "")
                   + f"; stages: {per_stage}",
                   f"{_minutes(total)} on {os.cpu_count()} cores; {load_txt}",
                   "—",
                   f"≤ {TARGET_MIN:g} min on 2 idle cores" + (f" (missed: {'; '.join(missed)})" if missed else ""),
                   met),
        "prose": (f"A fresh tiny `make reproduce` (finished {finished}) spent {_minutes(total)} in its notebooks "
                  f"(kernels, imports and stages; stages alone {_minutes(wall)}"
                  + (f", {_minutes(cpu)} of CPU time" if cpu is not None else "")
                  + f"), {load_txt}. Stage times from each `data/tiny/<stage>/_stage.json`: {per_stage}. "
                  f"Target ≤ {TARGET_MIN:g} min on 2 idle cores: "
                  + ("not judged (notebook times missing)" if met is None else "met" if met else
                     "missed (" + "; ".join(missed) + ")") + "."),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))
