"""The reproduction report on a temporary output root with fake manifests, tables and figures."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from definemed import plotting, tables  # noqa: E402
from definemed.errors import DefinemedError  # noqa: E402
from definemed.report import build_report, collect  # noqa: E402

CLAIMS = pd.DataFrame({"paper claim": [f"claim {i}" for i in range(10)], "paper number": ["0.09 → 0.31"] * 10,
                       "ours (95% CI)": ["mistral-7b-tiny: 0.27 → 0.47 (+20.0 pts [+12.1, +27.9]); " * 2] * 10,
                       "reproduced": ["yes", "no", "partly", "not run", "yes"] * 2})


@pytest.fixture
def fake_outputs(out_root):
    mdir = out_root / "data" / "rep" / "manifests"
    mdir.mkdir(parents=True)
    for stage, wall, tabs, figs in (("07_failure_analysis", 12.5, ["failure_counts"], []),
                                    ("00_corpus", 3.25, ["corpus_stats"], ["corpus_lengths"]),
                                    ("zoo", 200.0, ["zoo", "not_written"], [])):
        (mdir / f"{stage}.json").write_text(json.dumps({
            "stage": stage, "profile": "rep", "seed": 1234, "git_commit": "abcdef1234567890-dirty",
            "finished_at": "2026-01-01T00:00:00Z", "wall_time_s": wall, "counts": {"n": 7, "nested": {"a": 1}},
            "notebook": {"path": f"build/rep/notebooks/{stage}.ipynb", "tables": tabs, "figures": figs}}))
    tables.write_table(tables.comparison([{"quantity": "documents", "ours": 20000, "paper_key": "corpus.fineweb_docs"}]),
                       "corpus_stats", "rep")
    tables.write_table(pd.DataFrame({"model": ["m<b>"], "ours": [3], "paper": ["207"]}), "failure_counts", "rep")
    tables.write_table(pd.DataFrame({"x": [1.23456789]}), "loose_table", "rep")
    tables.write_table(pd.DataFrame({"model": ["tiny"], "params": [1.0]}), "zoo", "rep")
    tables.write_table(pd.DataFrame({"t": range(40)}), "long_table", "rep")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plotting.save_figure(fig, "corpus_lengths", "rep")
    plotting.save_figure(fig, "stray_figure", "rep")
    plt.close(fig)
    return out_root


def test_sections_follow_stage_order_and_file_outputs_by_manifest(fake_outputs):
    secs = collect("rep")
    assert [s.stage for s in secs] == ["00_corpus", "zoo", "07_failure_analysis", "other"]
    assert secs[0].tables == ["corpus_stats"] and secs[0].figures == ["corpus_lengths"]
    assert secs[1].tables == ["zoo"], "a listed table that was never written is left out"
    assert secs[-1].tables == ["long_table", "loose_table"] and secs[-1].figures == ["stray_figure"]


def test_report_opens_with_the_claims_table(fake_outputs):
    tables.write_table(CLAIMS, "claims", "rep")
    out = build_report("rep")
    md, html = out["md"].read_text(), out["html"].read_text()
    assert md.index("## The paper's claims, checked") < md.index("## Stages") < md.index("<summary><b>00_corpus")
    assert "claim 9" in md and "Source: figures/rep/tables/claims.csv" in md
    assert html.index("id='claims'") < html.index("<h2>Stages</h2>")
    assert "<td class='partly'><b>partly</b></td>" in html
    assert all(s.tables != ["claims"] for s in collect("rep")), "the claims table is not filed again"


def test_report_markdown_and_html(fake_outputs, out_root):
    out = build_report("rep")
    md = out["md"].read_text()
    html = out["html"].read_text()
    assert out["md"] == out_root / "figures" / "rep" / "report.md"
    assert "profile `rep`" in md and "427.7M" in md  # the paper's value from the table
    assert md.index("<b>00_corpus</b>") < md.index("<b>zoo</b>") < md.index("<b>07_failure_analysis</b>") \
        < md.index("<b>Other tables and figures</b>")
    assert "3.2 s" in md and "3.3 min" in md and "abcdef123456-dirty" in md
    assert "Total wall time of the stages: 3.6 min" in md
    assert "![corpus_lengths](corpus_lengths.png)" in md
    assert "Counts: n = 7, nested.a = 1" in md
    assert "No claims table yet" in md
    assert html.count("data:image/png;base64,") == 2  # self-contained
    assert html.count("<details") == 4 + 1  # one per section, one for the 40-row table
    assert "<summary>Table: long_table (40 rows)</summary>" in html
    assert "m&lt;b&gt;" in html and "<b>m" not in html  # table cells escaped
    assert "1.235" in html


def test_report_with_nothing_run_yet(out_root):
    out = build_report("empty")
    assert "No stage has run yet" in out["md"].read_text()


def test_bad_manifest_is_a_one_line_error(fake_outputs, out_root):
    (out_root / "data" / "rep" / "manifests" / "05_merge.json").write_text("{broken")
    with pytest.raises(DefinemedError, match="05_merge.json: not valid JSON"):
        build_report("rep")


def test_report_cli_writes_results_but_never_the_repository(out_root, capsys):
    from definemed import paths
    from definemed.cli import main

    readme = (paths.ROOT / "README.md").read_text()
    main(["report", "--profile", "tiny"])
    assert "report:" in capsys.readouterr().out
    assert (out_root / "figures" / "tiny" / "report.html").exists()
    res = json.loads((out_root / "build" / "tiny" / "results.json").read_text())
    assert res["stages"] == {} and res["values"] == {}
    assert (paths.ROOT / "README.md").read_text() == readme


HEADLINE_ROWS = pd.DataFrame({
    "paper claim": ["LLM labels agree with human experts", "adapted Qwen2.5-7B wins more often against the larger model",
                    "typos: Qwen2.5-7B down, Mistral-7B up", "FineMed-de is a small medical subset of the web corpus"],
    "paper number": ["F1 91.1 ± 2.5", "W/N 0.09 → 0.31", "Qwen 118 → 41", "1.71 %"],
    "ours (95% CI)": ["F1 89.1 [85.5, 92.2]", "qwen: W/N 0.083 → 0.060", "qwen: 25 → 1", "17.8 % kept"],
    "reproduced": ["yes", "no", "partly", "not comparable"],
    "rule": ["95 % interval overlaps the paper's range", "change above 0 beyond the interval", "direction per family",
             "—"]})


def test_verdict_paragraph_is_generated_from_the_claims_rows():
    from definemed.report.build import claim_columns, verdict_paragraph

    cols = claim_columns(HEADLINE_ROWS)
    assert cols["verdict"] == "reproduced" and cols["rule"] == "rule", "a trailing rule column is not the verdict"
    text = verdict_paragraph(HEADLINE_ROWS)
    assert text.startswith("Of the paper's 4 claims checked here, 1 reproduces (LLM labels agree with human experts)")
    assert "1 does not reproduce (adapted Qwen2.5-7B wins more often against the larger model)" in text
    assert "1 cannot be checked on this run: FineMed-de is a small medical subset of the web corpus (not comparable)" in text
    assert "does not reproduce: the paper reports W/N 0.09 → 0.31; this run measures qwen: W/N 0.083 → 0.060" in text
    flipped = HEADLINE_ROWS.assign(reproduced=["no", "yes", "no", "no"])
    assert "The headline claim, “adapted Qwen2.5-7B wins more often against the larger model”, reproduces" \
        in verdict_paragraph(flipped)


def test_first_screen_says_what_the_run_is_and_links_each_claim(fake_outputs, out_root):
    mdir = out_root / "data" / "rep" / "manifests"
    (mdir / "zoo.json").write_text(json.dumps({
        "stage": "zoo", "seed": 1234, "counts": {"models": {"qwen2.5-7b-tiny": {"params": 1_001_600, "role": "small"},
                                                            "mistral-small-24b-tiny": {"params": 3_426_560, "role": "reference"}}},
        "notebook": {"path": "build/rep/notebooks/03b_zoo.ipynb", "tables": ["zoo"], "figures": []}}))
    (mdir / "06_evaluate.json").write_text(json.dumps({
        "stage": "06_evaluate", "seed": 1234, "counts": {}, "config": {"evaluate": {"judge": "reference"}},
        "notebook": {"path": "build/rep/notebooks/06_evaluate.ipynb", "tables": [], "figures": ["evaluate_winrates"]}}))
    (out_root / "build" / "rep" / "notebooks").mkdir(parents=True)
    (out_root / "build" / "rep" / "notebooks" / "06_evaluate.ipynb").write_text("{}")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plotting.save_figure(fig, "evaluate_winrates", "rep")
    plt.close(fig)
    tables.write_table(HEADLINE_ROWS, "claims", "rep")
    html = build_report("rep")["html"].read_text()
    top = html[: html.index("id='claims'")]
    assert "What this run is." in top and "qwen2.5-7b-tiny 1.0M" in top and "mistral-small-24b-tiny 3.4M (reference)" in top
    assert "a rule judge instead of an LLM judge" in top
    assert "<b>Verdict.</b> Of the paper&#x27;s 4 claims" in top
    claims = html[html.index("id='claims'"): html.index("</table>", html.index("id='claims'"))]
    assert "<th>reproduced</th><th>rule</th>" in claims and "<td class='rule'>direction per family</td>" in claims
    assert "<a href='#fig-evaluate_winrates'>adapted Qwen2.5-7B wins more often against the larger model</a>" in claims
    assert "href='../../build/rep/notebooks/06_evaluate.ipynb'" in claims
    assert "<figure id='fig-evaluate_winrates'>" in html and "Supports: adapted Qwen2.5-7B wins more often" in html
    assert html.index("id='claims'") < html.index("<h2>Key figures</h2>") < html.index("<h2>Stages</h2>")
