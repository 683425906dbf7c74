"""The reproduction report (Markdown and self-contained HTML): one page on top, everything behind it.

On top: the claims table (paper claim | paper number | ours (95% CI) | reproduced), the stage table and the key
figures. Below, one collapsed `<details>` section per stage with its counts, every table and every
figure it presented. Tables and figures are filed under the stage whose manifest lists them
(`notebook.tables` / `notebook.figures`, recorded by `definemed.presented` while the notebook ran);
whatever no manifest lists goes under "Other tables and figures".

The claims table is `figures/<p>/tables/claims.csv` when a notebook wrote one (06 and 07 do), else it
is computed here from the results file (`definemed.report.claims` on build/<p>/results.json).
"""
from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from definemed import artifacts, io, paths
from definemed.errors import DefinemedError

STAGE_ORDER = list(artifacts.ORDER)
CLAIMS = "claims"
KEY_FIGURES = ("evaluate_winrates", "evaluate_accuracy", "merge_tradeoff", "cpt_loss_curves")
"""Figures shown on the first page, when they exist (the rest are in their stage's section)."""
LONG_TABLE = 25
"""Tables longer than this many rows are collapsed on their own inside their stage's section."""


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


def collect(profile: str) -> list[Section]:
    """Sections in stage order, each with its manifest and the tables and figures the manifest lists;
    then the leftovers. The claims table is not filed (it opens the report)."""
    fig_dir, tab_dir = paths.figures_dir(profile), paths.tables_dir(profile)
    tables = sorted(p.stem for p in tab_dir.glob("*.csv")) if tab_dir.is_dir() else []
    figures = sorted(p.stem for p in fig_dir.glob("*.png")) if fig_dir.is_dir() else []
    sections, used_t, used_f = [], {CLAIMS}, set()
    for stage, m in sorted(read_manifests(profile).items(), key=lambda kv: _stage_key(kv[0])):
        nb = m.get("notebook") or {}
        s = Section(stage, m, [t for t in nb.get("tables", []) if t in tables and t not in used_t],
                    [f for f in nb.get("figures", []) if f in figures and f not in used_f])
        used_t |= set(s.tables)
        used_f |= set(s.figures)
        sections.append(s)
    rest = Section("other", None, [t for t in tables if t not in used_t], [f for f in figures if f not in used_f])
    if rest.tables or rest.figures:
        sections.append(rest)
    return sections


def claims_frame(profile: str) -> tuple[pd.DataFrame | None, str]:
    """The claims table and where it came from (a notebook's table, or computed from the results)."""
    csv = paths.tables_dir(profile) / f"{CLAIMS}.csv"
    if csv.is_file():
        return pd.read_csv(csv, keep_default_na=False), f"figures/{profile}/tables/{CLAIMS}.csv"
    res = paths.build_dir(profile) / "results.json"
    if res.is_file():
        from definemed.report.claims import claims_table

        return claims_table(json.loads(res.read_text(encoding="utf-8"))), f"computed from build/{profile}/results.json"
    return None, ""


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
        commit = str(m.get("git_commit", "—"))
        rows.append({"stage": s.stage, "status": "done" if s.manifest else "no manifest",
                     "wall time": _fmt_time(m.get("wall_time_s")), "finished (UTC)": m.get("finished_at", "—"),
                     "git commit": commit[:12] + ("-dirty" if commit.endswith("-dirty") else ""),
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


def _n_rows(tab_dir: Path, name: str) -> int:
    try:
        return len(pd.read_csv(tab_dir / f"{name}.csv"))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, FileNotFoundError):
        return 0


_INTRO = ("Every number comes from the stage outputs (data/{p}/); the paper's values are data/paper_reported.yaml. "
          "The claims table says which of the paper's claims this run reproduces; the full tables and figures of "
          "every stage are in the collapsed sections below.")


def render_markdown(profile: str, sections: list[Section], meta: dict) -> str:
    tab_dir = paths.tables_dir(profile)
    claims, source = meta["claims"]
    out = [f"# DeFineMed reproduction report — profile `{profile}`", "",
           f"Generated {meta['generated']} from git commit `{meta['commit']}`. " + _INTRO.format(p=profile), "",
           "## The paper's claims, checked", ""]
    out += [claims.to_markdown(index=False), "", f"_Source: {source}._", ""] if claims is not None else \
        ["_No claims table yet: stages 06 and 07 write it._", ""]
    out += ["## Stages", "",
            stage_summary(sections).to_markdown(index=False) if sections else "_No stage has run yet._",
            f"\nTotal wall time of the stages: {_fmt_time(meta['total_s'])}.", ""]
    figs = [f for f in KEY_FIGURES if (paths.figures_dir(profile) / f"{f}.png").is_file()]
    if figs:
        out += ["## Key figures", ""] + [f"![{f}]({f}.png)" for f in figs] + [""]
    for s in sections:
        out += ["<details>", f"<summary><b>{_title(s.stage)}</b>: {len(s.tables)} tables, {len(s.figures)} figures</summary>", ""]
        counts = _scalar_counts(s.manifest)
        if counts:
            out += ["Counts: " + ", ".join(f"{k} = {v}" for k, v in counts.items()), ""]
        for t in s.tables:
            out += [f"#### Table: {t}", "", (tab_dir / f"{t}.md").read_text(encoding="utf-8").strip(), ""]
        for f in s.figures:
            out += [f"#### Figure: {f}", "", f"![{f}]({f}.png)", ""]
        out += ["</details>", ""]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1240px;margin:1em auto;padding:0 1em;color:#222}
h1{font-size:1.45em;margin:.2em 0}.meta{color:#555;font-size:.85em;margin:.2em 0 .6em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.8em}th,td{border:1px solid #ccc;padding:.2em .45em}
th{background:#f2f2f2}td{vertical-align:top}img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}
h2{border-bottom:1px solid #ddd;margin:1em 0 .3em;font-size:1.2em}
#claims td:nth-child(3){max-width:520px}.yes{background:#e3f4e3}.partly{background:#fdf3d6}.no{background:#f9e0e0}
.keyfigs{display:grid;grid-template-columns:1fr 1fr;gap:.5em}
details{border:1px solid #ddd;border-radius:4px;margin:.4em 0;padding:.2em .6em}summary{cursor:pointer}
.counts{color:#555;font-size:.8em}"""


def _table_html(tab_dir: Path, name: str) -> str:
    csv = tab_dir / f"{name}.csv"
    if csv.is_file():
        try:
            df = pd.read_csv(csv)
            return df.to_html(index=False, na_rep="", border=0, float_format=lambda x: f"{x:.4g}")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            pass
    return "<pre>" + html.escape((tab_dir / f"{name}.md").read_text(encoding="utf-8")) + "</pre>"


def _claims_html(claims: pd.DataFrame) -> str:
    e = html.escape
    cols = list(claims.columns)
    verdict = cols[-1]
    head = "".join(f"<th>{e(str(c))}</th>" for c in cols)
    rows = []
    for _, r in claims.iterrows():
        cls = str(r[verdict]).strip().lower()
        cells = "".join(f"<td>{e(str(r[c]))}</td>" for c in cols[:-1])
        rows.append(f"<tr>{cells}<td class='{e(cls)}'><b>{e(str(r[verdict]))}</b></td></tr>")
    return f"<table id='claims'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _img(fig_dir: Path, name: str) -> str:
    data = base64.b64encode((fig_dir / f"{name}.png").read_bytes()).decode()
    return f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"


def render_html(profile: str, sections: list[Section], meta: dict) -> str:
    fig_dir, tab_dir = paths.figures_dir(profile), paths.tables_dir(profile)
    e = html.escape
    claims, source = meta["claims"]
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>DeFineMed report ({e(profile)})</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>DeFineMed reproduction report — profile <code>{e(profile)}</code></h1>",
           f"<p class='meta'>Generated {e(meta['generated'])} from git commit <code>{e(meta['commit'])}</code>. "
           f"{e(_INTRO.format(p=profile))}</p>",
           "<h2 id='verdict'>The paper's claims, checked</h2>",
           (_claims_html(claims) + f"<p class='meta'>Source: {e(source)}.</p>") if claims is not None else
           "<p><em>No claims table yet: stages 06 and 07 write it.</em></p>",
           "<h2>Stages</h2>",
           stage_summary(sections).to_html(index=False, border=0) if sections else "<p><em>No stage has run yet.</em></p>",
           f"<p class='meta'>Total wall time of the stages: {e(_fmt_time(meta['total_s']))}.</p>"]
    figs = [f for f in KEY_FIGURES if (fig_dir / f"{f}.png").is_file()]
    if figs:
        out += ["<h2>Key figures</h2>", "<div class='keyfigs'>"] + [_img(fig_dir, f) for f in figs] + ["</div>"]
    out.append("<h2>Every stage in full</h2>")
    for s in sections:
        out.append(f"<details id='{e(s.stage)}'><summary><b>{e(_title(s.stage))}</b>: {len(s.tables)} tables, "
                   f"{len(s.figures)} figures</summary>")
        counts = _scalar_counts(s.manifest)
        if counts:
            out.append("<p class='counts'>Counts: " + e(", ".join(f"{k} = {v}" for k, v in counts.items())) + "</p>")
        for t in s.tables:
            n = _n_rows(tab_dir, t)
            if n > LONG_TABLE:
                out += [f"<details><summary>Table: {e(t)} ({n} rows)</summary>", _table_html(tab_dir, t), "</details>"]
            else:
                out += [f"<h3>Table: {e(t)}</h3>", _table_html(tab_dir, t)]
        for f in s.figures:
            out += [f"<h3>Figure: {e(f)}</h3>", _img(fig_dir, f)]
        out.append("</details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def build_report(profile: str, cfg=None) -> dict[str, Path]:
    """Write figures/<profile>/report.md and report.html; return their paths. With the profile's
    config, first write the results file (build/<p>/results.json, and results/<p>.json when every
    stage is done) and regenerate the README's and the docs' generated blocks from it."""
    from definemed.manifest import git_commit

    out: dict[str, Path] = {}
    if cfg is not None:
        from definemed.report import prose, results

        out["results"] = results.write(cfg)
        if cfg.profile == prose.PROFILE and results.in_repo(cfg.profile) and results.results_file(cfg.profile).is_file():
            prose.update(results.load(cfg.profile))
    sections = collect(profile)
    total = sum(float((s.manifest or {}).get("wall_time_s") or 0) for s in sections)
    meta = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": git_commit(),
            "total_s": total, "claims": claims_frame(profile)}
    d = paths.figures_dir(profile)
    out["md"] = io.write_text(d / "report.md", render_markdown(profile, sections, meta))
    out["html"] = io.write_text(d / "report.html", render_html(profile, sections, meta))
    return out
