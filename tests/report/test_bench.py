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
