"""The reproduction report on a temporary output root with fake manifests, tables and figures."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from definemed import plotting, tables  # noqa: E402
from definemed.errors import DefinemedError  # noqa: E402
from definemed.report import build_report, collect  # noqa: E402


def _notebook(folder, stage, code):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, folder / f"{stage}.ipynb")


@pytest.fixture
def fake_outputs(out_root, tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    _notebook(nbs, "00_corpus", 'tables.write_table(table, "corpus_stats", cfg.profile)\n'
                                'plotting.save_figure(fig, "corpus_lengths", cfg.profile)')
    _notebook(nbs, "07_failure_analysis", 'tables.write_table(counts, "failure_counts", cfg.profile)')
    _notebook(nbs, "03_filter", 'tables.write_table(t, "filter_stats", cfg.profile)')  # has not run
    mdir = out_root / "data" / "rep" / "manifests"
    mdir.mkdir(parents=True)
    for stage, wall in (("07_failure_analysis", 12.5), ("00_corpus", 3.25), ("zoo", 200.0)):
        (mdir / f"{stage}.json").write_text(json.dumps({
            "stage": stage, "profile": "rep", "seed": 1234, "git_commit": "abcdef1234567890-dirty",
            "finished_at": "2026-01-01T00:00:00Z", "wall_time_s": wall, "counts": {"n": 7, "nested": {"a": 1}}}))
    tables.write_table(tables.comparison([{"quantity": "documents", "ours": 20000, "paper_key": "corpus.fineweb_docs"}]),
                       "corpus_stats", "rep")
    tables.write_table(pd.DataFrame({"model": ["m<b>"], "ours": [3], "paper": ["207"]}), "failure_counts", "rep")
    tables.write_table(pd.DataFrame({"x": [1.23456789]}), "loose_table", "rep")
    tables.write_table(pd.DataFrame({"model": ["tiny"], "params": [1.0]}), "zoo", "rep")  # a step without a notebook
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plotting.save_figure(fig, "corpus_lengths", "rep")
    plotting.save_figure(fig, "stray_figure", "rep")
    plt.close(fig)
    return nbs


def test_sections_follow_stage_order_and_file_outputs_by_notebook(fake_outputs):
    secs = collect("rep", fake_outputs)
    assert [s.stage for s in secs] == ["00_corpus", "zoo", "07_failure_analysis", "other"]
    assert secs[0].tables == ["corpus_stats"] and secs[0].figures == ["corpus_lengths"]
    assert secs[1].tables == ["zoo"], "outputs of a notebook-less step are filed under it by name"
    assert secs[-1].tables == ["loose_table"] and secs[-1].figures == ["stray_figure"]


def test_report_markdown_and_html(fake_outputs, out_root):
    out = build_report("rep", fake_outputs)
    md = out["md"].read_text()
    html = out["html"].read_text()
    assert out["md"] == out_root / "figures" / "rep" / "report.md"
    assert "profile `rep`" in md and "427.7M" in md  # the paper's value from the table
    assert md.index("## 00_corpus") < md.index("## zoo") < md.index("## 07_failure_analysis") < md.index("## Other")
    assert "3.2 s" in md and "3.3 min" in md and "abcdef123456-dirty" in md
    assert "Total wall time of the stages: 3.6 min" in md
    assert "![corpus_lengths](corpus_lengths.png)" in md
    assert "Counts: n = 7, nested.a = 1" in md
    assert html.count("data:image/png;base64,") == 2  # self-contained
    assert "m&lt;b&gt;" in html and "<b>" not in html.replace("<body>", "")  # table cells escaped
    assert "1.235" in html


def test_report_with_nothing_run_yet(out_root, tmp_path):
    out = build_report("empty", tmp_path)
    assert "No stage has run yet" in out["md"].read_text()


def test_bad_manifest_is_a_one_line_error(fake_outputs, out_root):
    (out_root / "data" / "rep" / "manifests" / "05_merge.json").write_text("{broken")
    with pytest.raises(DefinemedError, match="05_merge.json: not valid JSON"):
        build_report("rep", fake_outputs)


def test_report_cli(out_root, capsys):
    from definemed.cli import main

    main(["report", "--profile", "tiny"])
    assert "report:" in capsys.readouterr().out
    assert (out_root / "figures" / "tiny" / "report.html").exists()
