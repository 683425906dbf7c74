"""The README's benchmark table and the docs' benchmark sentences are generated from the committed
benchmarks/results.json (`python benchmarks/run.py --publish`, which `make bench` runs at the end)."""
from __future__ import annotations

import copy

import pytest

from definemed import paths
from definemed.report import bench

DOCS = [f for f in bench.documents() if bench.blocks(f.read_text(encoding="utf-8"))]


def test_readme_has_the_table_and_the_docs_quote_the_issue_entries():
    assert "table" in bench.blocks((paths.ROOT / "README.md").read_text(encoding="utf-8"))
    names = {n for f in DOCS for n in bench.blocks(f.read_text(encoding="utf-8"))}
    assert {"packing", "training", "merge", "classifier", "label", "scaling"} <= names
    for doc, name in (("training.md", "training"), ("merging.md", "merge"), ("classifier.md", "classifier"),
                      ("labeling.md", "label")):
        assert name in bench.blocks((paths.ROOT / "docs" / doc).read_text(encoding="utf-8")), doc


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_generated_blocks_match_the_committed_results(doc):
    """Fails when the README table or a doc's benchmark sentence differs from benchmarks/results.json:
    rerun `python benchmarks/run.py --publish` (or `make bench`)."""
    text = doc.read_text(encoding="utf-8")
    assert text == bench.render(text, bench.load()), f"{doc.name}: benchmark numbers differ from benchmarks/results.json"


def test_every_entry_states_its_row_and_the_load():
    res = bench.load()
    assert set(bench.required(res)) <= set(res["entries"])
    for name, e in res["entries"].items():
        assert {"measures", "baseline", "ours", "result", "equal_work", "target", "met"} <= set(e["row"]), name
        assert e["prose"] and isinstance(e["load_1min_start"], (int, float)), name
    table = bench.table(res)
    assert table.count("\n| ") == len(res["entries"]) + 1  # header + one row per entry
    assert "load" in table.splitlines()[2]


def test_a_changed_number_is_caught():
    res = bench.load()
    text = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    changed = copy.deepcopy(res)
    name = next(iter(changed["entries"]))
    changed["entries"][name]["load_1min_start"] += 1.0
    assert bench.render(text, changed) != text


def test_a_missing_entry_is_named():
    text = "<!-- bench:nope (x) -->\nold\n<!-- /bench:nope -->\n"
    out = bench.render(text, {"date": "d", "entries": {}})
    assert "`nope` not in the results file" in out and "old" not in out


def test_harness_2_results_need_every_entry():
    assert set(bench.LEGACY) < set(bench.ORDER)
    assert bench.required({"harness": 2}) == bench.ORDER and bench.required({}) == bench.LEGACY


def _bench_module(name: str):
    import importlib.util
    import sys

    sys.path.insert(0, str(paths.ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, paths.ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_run(root, wall: float, load: float, notebook_extra: float = 5.0):
    import json

    from definemed import artifacts

    for i, stage in enumerate(artifacts.ORDER):
        (root / stage).mkdir(parents=True)
        (root / stage / "_stage.json").write_text(json.dumps(
            {"wall_time_s": wall * (i + 1), "cpu_time_s": 2 * wall * (i + 1), "load_1min_start": load,
             "load_1min_end": load, "finished_at": f"2026-12-07T10:0{i}:00Z"}))
        (root / "manifests").mkdir(exist_ok=True)
        (root / "manifests" / f"{stage}.json").write_text(json.dumps(
            {"notebook": {"wall_time_s": wall * (i + 1) + notebook_extra}}))


def test_reproduce_entry_reads_the_stage_records(tmp_path, monkeypatch):
    """The reproduce-time entry sums the stage records' wall and CPU times and the notebooks' wall
    times, and judges the 35-minute target only on an idle run."""
    from definemed import artifacts
    from definemed.errors import DefinemedError

    mod = _bench_module("bench_reproduce")
    n = len(artifacts.ORDER)
    _fake_run(tmp_path / "idle", 10.0, 0.5)
    monkeypatch.setenv("BENCH_REPRODUCE_DATA", str(tmp_path / "idle"))
    e = mod.run()
    tri = n * (n + 1) / 2
    assert e["stage_wall_s"] == round(10 * tri, 1) and e["stage_cpu_s"] == round(20 * tri, 1)
    assert e["notebook_wall_s"] == round(10 * tri + 5 * n, 1) and e["meets_target"] is True
    assert "04_cpt" not in e["prose"] and " 04 " in e["prose"] and e["row"]["met"] is True
    _fake_run(tmp_path / "busy", 10.0, 6.0)  # same times, but measured on a loaded machine: not judged met
    monkeypatch.setenv("BENCH_REPRODUCE_DATA", str(tmp_path / "busy"))
    e = mod.run()
    assert e["meets_target"] is False and "not idle" in e["row"]["target"]
    _fake_run(tmp_path / "slow", 60.0, 0.5)  # 45 stage-minutes
    monkeypatch.setenv("BENCH_REPRODUCE_DATA", str(tmp_path / "slow"))
    assert "> 35 min" in mod.run()["row"]["target"]
    (tmp_path / "slow" / "05_merge" / "_stage.json").unlink()
    with pytest.raises(DefinemedError, match="stage records missing: 05_merge"):
        mod.run()


def test_publishing_refuses_quick_short_or_loaded_runs():
    run = _bench_module("run")
    ok = {"quick": False, "repeats": 5, "entries": {"a": {"load_1min_start": 0.4, "load_1min_end": 1.9}}}
    assert run.unpublishable(ok) == []
    assert any("BENCH_QUICK" in w for w in run.unpublishable({**ok, "quick": True}))
    assert any("paired rounds" in w for w in run.unpublishable({**ok, "repeats": 2}))
    loaded = {**ok, "entries": {"a": {"load_1min_start": 0.4, "load_1min_end": 2.6}}}
    assert run.unpublishable(loaded) == ["a: load average 2.6 > 2"]


def test_ratio_intervals_and_fitted_exponents():
    common = _bench_module("common")
    r = common.ratios([{"s": 2.0}] * 5, [{"s": 1.0}, {"s": 1.0}, {"s": 1.0}, {"s": 1.0}, {"s": 1.0}], "s")
    assert r["median"] == 2.0 and r["ci95"] == [2.0, 2.0] and r["n"] == 5
    r = common.ratios([{"s": x} for x in (2.0, 3.0, 2.5, 2.2, 2.8)], [{"s": 1.0}] * 5, "s")
    assert r["ci95"][0] < r["geomean"] < r["ci95"][1] and 1.9 < r["ci95"][0] < 2.1 and 3.0 < r["ci95"][1] < 3.1
    assert "95 % CI" in common.spread(r, ".1f", "x")
    n = [1e6, 2e6, 4e6, 8e6, 1.6e7] * 2
    e = common.fit_exponent(n, [x ** 1.1 * (1.02 if i % 2 else 0.98) for i, x in enumerate(n)])
    assert e["ci95"][0] < 1.1 < e["ci95"][1] and e["points"] == 10 and e["ci95"][1] - e["ci95"][0] < 0.1
