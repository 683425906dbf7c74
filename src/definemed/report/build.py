"""The reproduction report: one page (Markdown and self-contained HTML) with every table and figure.

Generic: it reads whatever exists under figures/<p>/ (tables/*.csv|md, *.png) and data/<p>/manifests/
(*.json), so a new stage appears without code changes. Tables and figures are filed under the stage
whose notebook writes them (found by reading `write_table(..., "<name>"` and `save_figure(...,
"<name>"` in notebooks/<stage>.ipynb); anything else goes under "Other tables and figures".
The paper's values are already a column of every table (definemed.tables.comparison).
"""
from __future__ import annotations

import base64
import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from definemed import artifacts, io, paths
from definemed.errors import DefinemedError

# Pipeline order; stages not listed here follow in name order.
STAGE_ORDER = list(artifacts.ORDER)
_TABLE = re.compile(r"write_table\(\s*[^,]+,\s*[\"']([\w.\-]+)[\"']")
_FIGURE = re.compile(r"save_figure\(\s*[^,]+,\s*[\"']([\w.\-]+)[\"']")


@dataclass
class Section:
    stage: str
    manifest: dict | None = None
    tables: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)


def _stage_key(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage), "") if stage in STAGE_ORDER else (len(STAGE_ORDER), stage)


def read_manifests(profile: str) -> dict[str, dict]:
    out = {}
    for f in sorted(paths.manifests_dir(profile).glob("*.json")):
        try:
            m = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise DefinemedError(f"{f}: not valid JSON") from None
        if not isinstance(m, dict):
            raise DefinemedError(f"{f}: expected a JSON object")
        out[m.get("stage") or f.stem] = m
    return out


def notebook_outputs(stage: str, notebooks_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """Table and figure names a stage's notebook writes (from its source code)."""
    nb = (notebooks_dir or paths.NOTEBOOKS) / f"{stage}.ipynb"
    if not nb.is_file():
        return [], []
    try:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    except (json.JSONDecodeError, KeyError):
        return [], []
    code = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    return list(dict.fromkeys(_TABLE.findall(code))), list(dict.fromkeys(_FIGURE.findall(code)))


def collect(profile: str, notebooks_dir: Path | None = None) -> list[Section]:
    """Sections in stage order, each with its manifest, tables and figures; then the leftovers."""
    fig_dir, tab_dir = paths.figures_dir(profile), paths.tables_dir(profile)
    tables = sorted(p.stem for p in tab_dir.glob("*.md")) if tab_dir.is_dir() else []
    figures = sorted(p.stem for p in fig_dir.glob("*.png")) if fig_dir.is_dir() else []
    manifests = read_manifests(profile)
    stages = set(manifests)
    if notebooks_dir or paths.NOTEBOOKS.is_dir():
        stages |= {p.stem for p in (notebooks_dir or paths.NOTEBOOKS).glob("[0-9][0-9]_*.ipynb")}
    sections, used_t, used_f = [], set(), set()
    for stage in sorted(stages, key=_stage_key):
        nt, nf = notebook_outputs(stage, notebooks_dir)
        if not nt and not nf:  # a step without a notebook (the zoo): outputs named after the step
            nt = [t for t in tables if t == stage or t.startswith(stage + "_")]
            nf = [f for f in figures if f == stage or f.startswith(stage + "_")]
        s = Section(stage, manifests.get(stage), [t for t in nt if t in tables], [f for f in nf if f in figures])
        used_t |= set(s.tables)
        used_f |= set(s.figures)
        if s.manifest or s.tables or s.figures:
            sections.append(s)
    rest = Section("other", None, [t for t in tables if t not in used_t], [f for f in figures if f not in used_f])
    if rest.tables or rest.figures:
        sections.append(rest)
    return sections


def _fmt_time(s) -> str:
    if not isinstance(s, (int, float)):
        return "—"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def stage_summary(sections: list[Section]) -> pd.DataFrame:
    rows = []
    for s in sections:
        if s.stage == "other":
            continue
        m = s.manifest or {}
        rows.append({"stage": s.stage, "status": "done" if s.manifest else "no manifest",
                     "wall time": _fmt_time(m.get("wall_time_s")), "finished (UTC)": m.get("finished_at", "—"),
                     "git commit": str(m.get("git_commit", "—"))[:12] + ("-dirty" if str(m.get("git_commit", "")).endswith("-dirty") else ""),
                     "seed": m.get("seed", "—"), "tables": len(s.tables), "figures": len(s.figures)})
    return pd.DataFrame(rows)


def _scalar_counts(m: dict | None) -> dict:
    counts = (m or {}).get("counts", {}) or {}
    flat = {}
    for k, v in counts.items():  # one level of nesting, e.g. flagged.language_mixing
        for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)]):
            if isinstance(vv, (int, float, str, bool)):
                flat[f"{k}.{kk}" if kk else k] = f"{vv:.4g}" if isinstance(vv, float) else vv
    return flat


def _title(stage: str) -> str:
    return "Other tables and figures" if stage == "other" else stage


def render_markdown(profile: str, sections: list[Section], meta: dict) -> str:
    tab_dir = paths.tables_dir(profile)
    out = [f"# DeFineMed reproduction report — profile `{profile}`", "",
           f"Generated {meta['generated']} from git commit `{meta['commit']}`. Every table puts the paper's "
           "reported value (data/paper_reported.yaml) in the `paper` column beside ours; every number comes "
           "from the stage outputs listed below.", "", "## Stages", "",
           stage_summary(sections).to_markdown(index=False) if sections else "_No stage has run yet._",
           f"\nTotal wall time of the stages: {_fmt_time(meta['total_s'])}.", ""]
    for s in sections:
        out += [f"## {_title(s.stage)}", ""]
        counts = _scalar_counts(s.manifest)
        if counts:
            out += ["Counts: " + ", ".join(f"{k} = {v}" for k, v in counts.items()), ""]
        for t in s.tables:
            out += [f"### Table: {t}", "", (tab_dir / f"{t}.md").read_text(encoding="utf-8").strip(), ""]
        for f in s.figures:
            out += [f"### Figure: {f}", "", f"![{f}]({f}.png)", ""]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .5em}
th{background:#f2f2f2}td{vertical-align:top}img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}
h2{border-bottom:1px solid #ddd;margin-top:2em}.counts{color:#555;font-size:.85em}"""


def _table_html(tab_dir: Path, name: str) -> str:
    csv = tab_dir / f"{name}.csv"
    if csv.is_file():
        try:
            df = pd.read_csv(csv)
            return df.to_html(index=False, na_rep="", border=0, float_format=lambda x: f"{x:.4g}")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            pass
    return "<pre>" + html.escape((tab_dir / f"{name}.md").read_text(encoding="utf-8")) + "</pre>"


def render_html(profile: str, sections: list[Section], meta: dict) -> str:
    fig_dir, tab_dir = paths.figures_dir(profile), paths.tables_dir(profile)
    e = html.escape
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>DeFineMed report ({e(profile)})</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>DeFineMed reproduction report — profile <code>{e(profile)}</code></h1>",
           f"<p>Generated {e(meta['generated'])} from git commit <code>{e(meta['commit'])}</code>. Every table puts "
           "the paper's reported value (data/paper_reported.yaml) in the <code>paper</code> column beside ours; "
           "every number comes from the stage outputs listed below.</p>", "<h2>Stages</h2>",
           stage_summary(sections).to_html(index=False, border=0) if sections else "<p><em>No stage has run yet.</em></p>",
           f"<p>Total wall time of the stages: {e(_fmt_time(meta['total_s']))}.</p>"]
    for s in sections:
        out.append(f"<h2 id='{e(s.stage)}'>{e(_title(s.stage))}</h2>")
        counts = _scalar_counts(s.manifest)
        if counts:
            out.append("<p class='counts'>Counts: " + e(", ".join(f"{k} = {v}" for k, v in counts.items())) + "</p>")
        for t in s.tables:
            out += [f"<h3>Table: {e(t)}</h3>", _table_html(tab_dir, t)]
        for f in s.figures:
            data = base64.b64encode((fig_dir / f"{f}.png").read_bytes()).decode()
            out += [f"<h3>Figure: {e(f)}</h3>", f"<img alt='{e(f)}' src='data:image/png;base64,{data}'>"]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def build_report(profile: str, notebooks_dir: Path | None = None) -> dict[str, Path]:
    """Write figures/<profile>/report.md and report.html; return their paths."""
    from definemed.manifest import git_commit

    sections = collect(profile, notebooks_dir)
    total = sum(float((s.manifest or {}).get("wall_time_s") or 0) for s in sections)
    meta = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": git_commit(), "total_s": total}
    d = paths.figures_dir(profile)
    return {"md": io.write_text(d / "report.md", render_markdown(profile, sections, meta)),
            "html": io.write_text(d / "report.html", render_html(profile, sections, meta))}
