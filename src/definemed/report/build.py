"""The reproduction report (Markdown and self-contained HTML): one page on top, everything behind it.

On the first screen: what this run is (profile, model sizes, corpus, stand-ins), a verdict paragraph
generated from the claims rows (what reproduces, what does not, the headline in numbers) and the claims
table (paper claim | paper number | ours (95% CI) | reproduced, and the rule of each verdict when the
rows carry one), each claim linked to the figure or table behind it and to its executed notebook; then
the paper's chain link by link, the key figures at full width with captions, and the stage table. Below, one collapsed `<details>` section per stage with its counts, every table and every
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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from definemed import artifacts, io, paths
from definemed.errors import DefinemedError

STAGE_ORDER = list(artifacts.ORDER)
CLAIMS = "claims"
KEY_FIGURES = ("evaluate_winrates", "evaluate_accuracy", "merge_tradeoff", "failure_modes", "cpt_loss_curves")
"""Figures shown on the first page, when they exist (the rest are in their stage's section)."""
CAPTIONS = {
    "evaluate_winrates": "Win-rate W/N of every model against the reference model, with bootstrap 95 % intervals (stage 06).",
    "evaluate_accuracy": "Zero-shot accuracy of the base, CPT and SLERP models per benchmark (stage 06).",
    "merge_tradeoff": "Merging over a global t: t = 0 is the instruct base, t = 1 the CPT model, the star the "
                      "layer-wise schedule merge (stage 05).",
    "failure_modes": "Failure modes per model, counted by the detectors and the judge (stage 07).",
    "cpt_loss_curves": "Training loss of each continual pre-training run (stage 04).",
    "merge_schedule": "The layer-wise SLERP schedule: t per layer for self-attention and MLP tensors (stage 05).",
    "zoo_losses": "Pretraining and instruction-tuning loss of the tiny foundation models (zoo).",
}
"""What a figure shows; the report adds which claims it supports (EVIDENCE)."""
EVIDENCE = (
    ("LLM labels", artifacts.LABEL, "label_probabilities", "label_agreement"),
    ("classifier", artifacts.CLASSIFIER, "classifier_threshold_study", None),
    ("FineMed-de", artifacts.FILTER, "filter_scores_composition", None),
    ("wins more often", artifacts.EVALUATE, "evaluate_winrates", "evaluate_winrates"),
    ("instruction following", artifacts.EVALUATE, "merge_tradeoff", None),
    ("CPT", artifacts.EVALUATE, "evaluate_accuracy", "evaluate_family_gains"),
    ("merge keeps", artifacts.EVALUATE, "evaluate_accuracy", "evaluate_family_gains"),
    ("language mixing", artifacts.FAILURE, "failure_modes", None),
    ("typos", artifacts.FAILURE, "failure_modes", None),
    ("hallucination", artifacts.FAILURE, "failure_modes", None),
    ("overconfidence", artifacts.FAILURE, "failure_modes", None),
    ("contradiction", artifacts.FAILURE, "failure_modes", None),
    ("verbosity", artifacts.FAILURE, "failure_modes", None),
)
"""(words of a claim, stage that measures it, figure, table): where the report links each claim to.
The first entry whose words occur in the claim wins."""
HEADLINE = "wins more often"
"""Words of the paper's headline claim (the adapted Qwen2.5-7B's win-rate against the larger model)."""
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


def read_results(profile: str) -> dict:
    """build/<p>/results.json (what `definemed report` collected), or {} before the first report."""
    f = paths.build_dir(profile) / "results.json"
    try:
        res = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return res if isinstance(res, dict) else {}


def chain_frame(res: dict) -> pd.DataFrame | None:
    """The paper's chain link by link (`definemed.report.claims.chain`), None when nothing is measured."""
    if not res.get("values"):
        return None
    from definemed.report.claims import chain

    try:
        table = chain(res)
    except (KeyError, TypeError, ValueError):  # results of an older claims module: no chain, not a crash
        return None
    return table if len(table) else None


# ---- the first screen -------------------------------------------------------------------------
def claim_columns(claims: pd.DataFrame) -> dict[str, str | None]:
    """Which column of the claims rows is what, read defensively (the rows may gain columns)."""
    cols = [str(c) for c in claims.columns]
    rule = next((c for c in cols if c.lower() == "rule"), None)
    rest = [c for c in cols if c != rule]
    verdict = next((c for c in rest if c.lower() in ("reproduced", "verdict")), rest[-1])
    claim = next((c for c in rest if c.lower() in ("paper claim", "claim")), rest[0])
    ours = next((c for c in rest if c.lower().startswith("ours")), None)
    paper = next((c for c in rest if c.lower().startswith("paper") and c != claim), None)
    return {"claim": claim, "paper": paper, "ours": ours, "verdict": verdict, "rule": rule}


def verdict_kind(verdict) -> str:
    """'yes', 'partly', 'no' or 'other' (not run, not comparable, —) of a verdict cell."""
    v = str(verdict).strip().lower()
    if v.startswith("yes"):
        return "yes"
    if v.startswith("partly"):
        return "partly"
    return "no" if re.match(r"no\b", v) else "other"


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def verdict_paragraph(claims: pd.DataFrame, chain: pd.DataFrame | None = None) -> str:
    """One paragraph from the claims rows (and the chain): what reproduces, what does not, the headline in numbers."""
    c = claim_columns(claims)
    groups: dict[str, list[str]] = {"yes": [], "partly": [], "no": [], "other": []}
    for _, r in claims.iterrows():
        name = str(r[c["claim"]])
        kind = verdict_kind(r[c["verdict"]])
        groups[kind].append(name if kind != "other" else f"{name} ({str(r[c['verdict']]).strip() or '—'})")
    n = len(claims)
    parts = [f"Of the paper's {n} claims checked here,"]
    said = []
    if groups["yes"]:
        said.append(f"{len(groups['yes'])} reproduce{'s' if len(groups['yes']) == 1 else ''} "
                    f"({_listing(groups['yes'])})")
    if groups["partly"]:
        said.append(f"{len(groups['partly'])} reproduce{'s' if len(groups['partly']) == 1 else ''} for some "
                    f"model families only ({_listing(groups['partly'])})")
    if groups["no"]:
        said.append(f"{len(groups['no'])} do{'es' if len(groups['no']) == 1 else ''} not reproduce "
                    f"({_listing(groups['no'])})")
    parts.append((_listing(said) if said else "none reproduces") + ".")
    if groups["other"]:
        parts.append(f"{len(groups['other'])} cannot be checked on this run: {_listing(groups['other'])}.")
    head = next((r for _, r in claims.iterrows() if HEADLINE in str(r[c["claim"]])), None)
    if head is not None:
        kind = verdict_kind(head[c["verdict"]])
        word = {"yes": "reproduces", "partly": "reproduces only in part", "no": "does not reproduce"}.get(
            kind, f"is {str(head[c['verdict']]).strip()}")
        paper = f" the paper reports {head[c['paper']]}" if c["paper"] else ""
        ours = f"; this run measures {head[c['ours']]}" if c["ours"] and str(head[c["ours"]]).strip() not in ("", "—") else ""
        parts.append(f"The headline claim, \u201c{head[c['claim']]}\u201d, {word}:{paper}{ours}.")
    if chain is not None and len(chain):
        held = chain[chain["verdict"] == "holds"]
        broken = chain[chain["verdict"] == "does not hold"]
        measured = len(held) + len(broken)
        if measured:
            links = [f"{r.link.split('. ', 1)[-1]} ({r.family})" for r in broken.itertuples()]
            parts.append(f"Of the paper's mechanism, {len(held)} of {measured} measured links hold"
                         + (f"; these do not: {_listing(links)}." if links else "."))
    return " ".join(parts)


_STAND_INS = (
    (artifacts.LABEL, "label", "backend", ("lexicon",), "a keyword lexicon as the annotator instead of Mixtral-8x7B (01)"),
    (artifacts.CLASSIFIER, "classifier", "init", ("scratch",),
     "a small classifier trained from scratch instead of XLM-RoBERTa-base (02)"),
    (artifacts.EVALUATE, "evaluate", "source", ("factbank",), "fact-bank questions instead of MMLU-de / MedQA-de (06)"),
    (artifacts.EVALUATE, "evaluate", "judge", ("reference",), "a rule judge instead of an LLM judge for the win-rates (06)"),
    (artifacts.FAILURE, "failure", "judge", ("factbank",), "a fact-bank judge instead of an LLM judge (07)"),
)
"""(stage, config section, key, values, what it means): stand-ins a manifest's config reveals."""


def _params(n) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def run_line(profile: str, manifests: dict[str, dict], res: dict) -> str:
    """What this run is: profile and seed, the models and their sizes (zoo manifest), the corpus, the stand-ins."""
    values = res.get("values", {}) if isinstance(res, dict) else {}
    seed = next((m.get("seed") for m in manifests.values() if m.get("seed") is not None), res.get("seed"))
    out = [f"Profile <code>{html.escape(profile)}</code>" + (f", seed {seed}" if seed is not None else "") + "."]
    models = ((manifests.get(artifacts.ZOO) or {}).get("counts") or {}).get("models") or {}
    sizes = []
    for name, m in models.items():
        n = (m or {}).get("params") if isinstance(m, dict) else None
        n = n if isinstance(n, (int, float)) else values.get(f"zoo.{name}.params")
        role = (m or {}).get("role") if isinstance(m, dict) else None
        if isinstance(n, (int, float)):
            sizes.append(f"{html.escape(name)} {_params(n)}" + (" (reference)" if role == "reference" else ""))
    if sizes:
        built = any(str(k).endswith("-tiny") for k in models)
        out.append(("Models (built here, stand-ins for the paper's 7B and 24B models): " if built else "Models: ")
                   + ", ".join(sizes) + " parameters.")
    corpus = (manifests.get(artifacts.CORPUS) or {}).get("counts") or {}
    n_docs = corpus.get("n_docs", values.get("corpus.n_docs"))
    if isinstance(n_docs, (int, float)):
        src = corpus.get("source", "synthetic" if "corpus.medical_share" in values else None)
        share = corpus.get("medical_share", values.get("corpus.medical_share"))
        what = "a synthetic German corpus (no real text)" if src == "synthetic" else f"a {src} corpus" if src else "a corpus"
        out.append(f"Corpus: {what} of {int(n_docs):,} documents"
                   + (f", {100 * share:.1f} % of them medical" if isinstance(share, (int, float)) else "") + ".")
    stand = []
    for stage, section, key, vals, text in _STAND_INS:
        cfg = ((manifests.get(stage) or {}).get("config") or {}).get(section) or {}
        if isinstance(cfg, dict) and cfg.get(key) in vals:
            stand.append(text)
    if stand:
        out.append("Stand-ins: " + "; ".join(stand) + ".")
    return " ".join(out)


def evidence(claim: str) -> tuple[str, str | None, str | None] | None:
    """(stage, figure, table) behind a claim (EVIDENCE), None for a claim it does not know."""
    return next(((st, fig, tab) for words, st, fig, tab in EVIDENCE if words in claim), None)


def supported_claims(claims: pd.DataFrame | None, figure: str) -> list[str]:
    if claims is None:
        return []
    col = claim_columns(claims)["claim"]
    return [str(c) for c in claims[col] if (evidence(str(c)) or (None, None, None))[1] == figure]


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
    out = [f"# DeFineMed reproduction report — profile `{profile}`", ""]
    if meta.get("run"):
        out += ["**What this run is.** " + re.sub(r"</?code>", "`", meta["run"]), ""]
    out += ["## The paper's claims, checked", ""]
    if claims is not None:
        out += ["**Verdict.** " + verdict_paragraph(claims, meta.get("chain")), "",
                claims.to_markdown(index=False), "", f"_Source: {source}._", ""]
    else:
        out += ["_No claims table yet: stages 06 and 07 write it._", ""]
    chain = meta.get("chain")
    if chain is not None:
        out += ["## The paper's mechanism, link by link", "", chain.to_markdown(index=False), ""]
    out += [f"Generated {meta['generated']} from git commit `{meta['commit']}`. " + _INTRO.format(p=profile), ""]
    figs = [f for f in KEY_FIGURES if (paths.figures_dir(profile) / f"{f}.png").is_file()]
    if figs:
        out += ["## Key figures", ""]
        for f in figs:
            out += [f"![{f}]({f}.png)", "", f"_{caption(f, claims)}_", ""]
    out += ["## Stages", "",
            stage_summary(sections).to_markdown(index=False) if sections else "_No stage has run yet._",
            f"\nTotal wall time of the stages: {_fmt_time(meta['total_s'])}.", ""]
    for s in sections:
        out += ["<details>", f"<summary><b>{_title(s.stage)}</b>: {len(s.tables)} tables, {len(s.figures)} figures</summary>", ""]
        counts = _scalar_counts(s.manifest)
        if counts:
            out += ["Counts: " + ", ".join(f"{k} = {v}" for k, v in counts.items()), ""]
        for t in s.tables:
            out += [f"#### Table: {t}", "", (tab_dir / f"{t}.md").read_text(encoding="utf-8").strip(), ""]
        for f in s.figures:
            out += [f"#### Figure: {f}", "", f"![{f}]({f}.png)", "", f"_{caption(f, claims)}_", ""]
        out += ["</details>", ""]
    return "\n".join(out) + "\n"


def caption(figure: str, claims: pd.DataFrame | None) -> str:
    """What a figure shows and which claims it supports."""
    what = CAPTIONS.get(figure, f"Figure {figure}.")
    sup = supported_claims(claims, figure)
    return what + (f" Supports: {'; '.join(sup)}." if sup else "")


_CSS = """body{font-family:system-ui,sans-serif;max-width:1320px;margin:.6em auto;padding:0 1em;color:#222}
h1{font-size:1.35em;margin:.1em 0}.meta{color:#555;font-size:.8em;margin:.2em 0 .6em}
.run{font-size:.85em;margin:.2em 0;color:#333}.verdict{font-size:.92em;margin:.35em 0 .45em;line-height:1.35}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.8em}th,td{border:1px solid #ccc;padding:.2em .45em}
th{background:#f2f2f2}td{vertical-align:top}code{background:#f4f4f4;padding:0 .2em}
h2{border-bottom:1px solid #ddd;margin:.8em 0 .3em;font-size:1.15em}
#claims{font-size:.74em;margin-top:.2em}#claims td{padding:.12em .4em}#claims td.rule{color:#555;font-size:.92em;max-width:260px}
#claims td.ours{max-width:520px}#claims a{color:#1a4f8b}
.yes{background:#e3f4e3}.partly{background:#fdf3d6}.no{background:#f9e0e0}.holds{background:#e3f4e3}.doesnothold{background:#f9e0e0}
figure{margin:.6em 0 1.2em}figure img{width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#444;margin-top:.2em}
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


def _claims_html(claims: pd.DataFrame, links: dict | None = None) -> str:
    """The claims table: the claim (linked to its figure or table, and its executed notebook), the
    numbers, the verdict, and the rule of each verdict when the rows carry one."""
    e = html.escape
    c = claim_columns(claims)
    links = links or {}
    cols = [x for x in claims.columns if str(x) not in (c["verdict"], c["rule"])] + [c["verdict"]] \
        + ([c["rule"]] if c["rule"] else [])
    head = "".join(f"<th>{e(str(x))}</th>" for x in cols)
    rows = []
    for _, r in claims.iterrows():
        cells = []
        for x in cols:
            v = e(str(r[x]))
            if x == c["verdict"]:
                kind = verdict_kind(r[x])
                cls = kind if kind != "other" else str(r[x]).strip().lower().replace(" ", "")
                cells.append(f"<td class='{e(cls)}'><b>{v}</b></td>")
            elif x == c["claim"]:
                target, nb = links.get(str(r[x]), (None, None))
                text = f"<a href='#{e(target)}'>{v}</a>" if target else v
                if nb:
                    text += f" <a class='nb' href='{e(nb)}' title='the executed notebook'>[notebook]</a>"
                cells.append(f"<td>{text}</td>")
            else:
                cls = " class='rule'" if x == c["rule"] else " class='ours'" if x == c["ours"] else ""
                cells.append(f"<td{cls}>{v}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table id='claims'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chain_html(chain: pd.DataFrame) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(x))}</th>" for x in chain.columns)
    rows = []
    for _, r in chain.iterrows():
        cells = "".join(f"<td>{e(str(r[x]))}</td>" if x != "verdict" else
                        f"<td class='{e(str(r[x]).replace(' ', ''))}'><b>{e(str(r[x]))}</b></td>" for x in chain.columns)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table id='chain'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _img(fig_dir: Path, name: str, anchor: str | None = None, text: str | None = None) -> str:
    data = base64.b64encode((fig_dir / f"{name}.png").read_bytes()).decode()
    idattr = f" id='{html.escape(anchor)}'" if anchor else ""
    cap = f"<figcaption><b>{html.escape(name)}</b>: {html.escape(text)}</figcaption>" if text else ""
    return f"<figure{idattr}><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>{cap}</figure>"


def claim_links(profile: str, claims: pd.DataFrame, sections: list[Section], key_figs: list[str]) -> dict:
    """{claim: (anchor of its figure, table or stage section, relative link to the executed notebook)}."""
    shown_f = {f for s in sections for f in s.figures}
    shown_t = {t for s in sections for t in s.tables}
    stages = {s.stage: s for s in sections}
    out = {}
    for claim in claims[claim_columns(claims)["claim"]].astype(str):
        ev = evidence(claim)
        if ev is None:
            continue
        stage, fig, tab = ev
        target = (f"fig-{fig}" if fig in key_figs else f"sec-fig-{fig}" if fig in shown_f else
                  f"tab-{tab}" if tab in shown_t else stage if stage in stages else None)
        nb = ((stages.get(stage) and stages[stage].manifest or {}).get("notebook") or {}).get("path")
        nb_link = f"../../{nb}" if nb and (paths.build_dir(profile).parent.parent / nb).is_file() else None
        out[claim] = (target, nb_link)
    return out


def render_html(profile: str, sections: list[Section], meta: dict) -> str:
    fig_dir, tab_dir = paths.figures_dir(profile), paths.tables_dir(profile)
    e = html.escape
    claims, source = meta["claims"]
    figs = [f for f in KEY_FIGURES if (fig_dir / f"{f}.png").is_file()]
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>DeFineMed report ({e(profile)})</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>DeFineMed reproduction report — profile <code>{e(profile)}</code></h1>"]
    if meta.get("run"):
        out.append(f"<p class='run'><b>What this run is.</b> {meta['run']}</p>")  # run_line escapes its parts
    out.append("<h2 id='verdict'>The paper's claims, checked</h2>")
    if claims is not None:
        out += [f"<p class='verdict'><b>Verdict.</b> {e(verdict_paragraph(claims, meta.get('chain')))}</p>",
                _claims_html(claims, claim_links(profile, claims, sections, figs)),
                f"<p class='meta'>Source: {e(source)}. Each claim links to the figure or table behind it and to "
                "the notebook that made it.</p>"]
    else:
        out.append("<p><em>No claims table yet: stages 06 and 07 write it.</em></p>")
    chain = meta.get("chain")
    if chain is not None:
        out += ["<h2 id='mechanism'>The paper's mechanism, link by link</h2>", _chain_html(chain)]
    out.append(f"<p class='meta'>Generated {e(meta['generated'])} from git commit <code>{e(meta['commit'])}</code>. "
               f"{e(_INTRO.format(p=profile))}</p>")
    if figs:
        out += ["<h2>Key figures</h2>"] + [_img(fig_dir, f, f"fig-{f}", caption(f, claims)) for f in figs]
    out += ["<h2>Stages</h2>",
            stage_summary(sections).to_html(index=False, border=0) if sections else "<p><em>No stage has run yet.</em></p>",
            f"<p class='meta'>Total wall time of the stages: {e(_fmt_time(meta['total_s']))}.</p>"]
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
                out += [f"<details id='tab-{e(t)}'><summary>Table: {e(t)} ({n} rows)</summary>", _table_html(tab_dir, t),
                        "</details>"]
            else:
                out += [f"<h3 id='tab-{e(t)}'>Table: {e(t)}</h3>", _table_html(tab_dir, t)]
        for f in s.figures:
            out += [f"<h3>Figure: {e(f)}</h3>", _img(fig_dir, f, f"sec-fig-{f}", caption(f, claims))]
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
        from definemed.cards import update_model_cards

        update_model_cards(cfg, results.load(cfg.profile, out["results"]))  # stage 06's model-index in every card
        if cfg.profile == prose.PROFILE and results.in_repo(cfg.profile) and results.results_file(cfg.profile).is_file():
            prose.update(results.load(cfg.profile))
    sections = collect(profile)
    total = sum(float((s.manifest or {}).get("wall_time_s") or 0) for s in sections)
    res = read_results(profile)
    manifests = {s.stage: s.manifest for s in sections if s.manifest}
    meta = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": git_commit(),
            "total_s": total, "claims": claims_frame(profile), "chain": chain_frame(res),
            "run": run_line(profile, manifests, res)}
    d = paths.figures_dir(profile)
    out["md"] = io.write_text(d / "report.md", render_markdown(profile, sections, meta))
    out["html"] = io.write_text(d / "report.html", render_html(profile, sections, meta))
    return out
