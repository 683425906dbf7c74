"""Generated prose: the README's results section and the docs' "measured" sections, rendered from
the results file (`definemed.report.results`), so no number in them is typed by hand.

A generated block in a Markdown file looks like

    <!-- results:NAME (generated from results/tiny.json by `python -m definemed report`; do not edit) -->
    ...
    <!-- /results:NAME -->

`python -m definemed report --profile tiny` rewrites every block of README.md and docs/*.md from the
new results; tests/report/test_prose.py fails when a block differs from what results/tiny.json gives.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from definemed import paths
from definemed.reported import paper_text

_BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) [^>]*-->\n)(?P<body>.*?)(<!-- /results:(?P=name) -->)", re.S)
NA = "not run"
PROFILE = "tiny"
"""The profile whose committed results (results/tiny.json) the README and the docs describe."""


class V:
    """Formatted access to the results values; a missing key renders as 'not run'."""

    def __init__(self, res: dict):
        self.v = res["values"]
        self.profile = res["profile"]

    def __contains__(self, key: str) -> bool:
        return key in self.v

    def f(self, key: str, fmt: str = ".2f", scale: float = 1.0) -> str:
        x = self.v.get(key)
        if x is None:
            return NA
        if not isinstance(x, (int, float)):
            return str(x)
        x = x * scale if scale != 1 else x
        if fmt.endswith("d") and isinstance(x, float) and x.is_integer():
            x = int(x)
        return format(x, fmt)

    def pct(self, key: str, digits: int = 1) -> str:
        return self.f(key, f".{digits}f", 100)

    def ci(self, key: str, fmt: str = ".2f", scale: float = 1.0) -> str:
        return f"{self.f(key, fmt, scale)} [{self.f(key + '_lo', fmt, scale)}, {self.f(key + '_hi', fmt, scale)}]"

    def families(self) -> list[str]:
        return sorted({k[4:-len(".ppl_medical_after")] for k in self.v if k.startswith("cpt.") and k.endswith(".ppl_medical_after")})

    def fact_key(self, fam: str) -> str | None:
        """The evaluation key of the held-out fact benchmark of a family (else its first medical benchmark)."""
        from definemed.report.claims import fact_key

        return fact_key(self.v, fam)


def _readme(r: V) -> str:
    fams = r.families()
    out = [f"Numbers from `results/{r.profile}.json` (written by `make reproduce`; seed of the run in the file). "
           f"`figures/{r.profile}/report.html` opens with the claims table and collects every table and figure."]
    out.append(f"- 01: the {'lexicon stand-in' if r.v.get('label.stand_in') else 'annotator'} agrees with the "
               f"expert labels at F1 {r.pct('label.f1')} % [{r.pct('label.f1_lo')}, {r.pct('label.f1_hi')}] (paper, "
               f"Mixtral: {paper_text('label.f1')}); the second expert reaches {r.pct('label.human_f1')} %; it labels "
               f"{r.f('label.false_positives', 'd')} of the experts' non-medical documents medical.")
    out.append(f"- 02/03: at threshold {r.f('classifier.threshold', 'g')} the classifier reaches precision "
               f"{r.f('classifier.test.precision')} / recall {r.f('classifier.test.recall')} on held-out LLM labels and "
               f"{r.f('classifier.expert.precision')} / {r.f('classifier.expert.recall')} on the expert labels (paper: "
               f"{paper_text('classifier.precision')} / {paper_text('classifier.recall')}). FineMed-de keeps "
               f"{r.pct('filter.kept_share')} % of the synthetic corpus (the paper: 1.71 % of FineWeb2-de); against "
               f"the generator's truth its precision is {r.ci('filter.precision')} and its recall {r.ci('filter.recall')}; "
               f"the largest non-medical topic in it is {r.f('filter.top_leak.topic')} "
               f"({r.f('filter.top_leak.kept', 'd')} of {r.f('filter.top_leak.docs', 'd')} documents kept, "
               f"{r.pct('filter.top_leak.share_of_finemed')} % of FineMed-de).")
    cpt = "; ".join(f"{f}: medical {r.f(f'cpt.{f}.ppl_medical_before', ',.0f')} → {r.f(f'cpt.{f}.ppl_medical_after')}, "
                    f"general {r.f(f'cpt.{f}.ppl_general_before', ',.1f')} → {r.f(f'cpt.{f}.ppl_general_after', ',.1f')}"
                    for f in fams)
    exp = ", ".join(r.f(f"cpt.{f}.median_exposures", ".0f") for f in fams)
    out.append(f"- 04: held-out perplexity before → after CPT: {cpt or NA}. Median exposures per fact: {exp or NA}.")
    mrg = "; ".join(f"{f}: end-of-turn rate {r.f(f'merge.{f}.format_rate')} (base) → {r.f(f'merge.{f}-cpt.format_rate')} "
                    f"(CPT) → {r.f(f'merge.{f}-slerp.format_rate')} (SLERP), medical perplexity "
                    f"{r.f(f'merge.{f}-slerp.ppl_medical', ',.1f')}, general {r.f(f'merge.{f}-slerp.ppl_general', ',.1f')}"
                    for f in fams)
    out.append(f"- 05: the gradient-SLERP merges: {mrg or NA}. (The end-of-turn rate counts any answer that "
               "ends its turn, a lone \".\" too; stage 06's in-format rate below counts only sentences.)")
    acc, wr = [], []
    for f in fams:
        k = r.fact_key(f)
        if k:
            acc.append(f"{f} {r.f(k + '.base')} → CPT {r.f(k + '.cpt')} ({r.f(k + '.cpt_gain_pts', '+.1f')} points "
                       f"[{r.f(k + '.cpt_gain_lo', '+.1f')}, {r.f(k + '.cpt_gain_hi', '+.1f')}]) → SLERP {r.f(k + '.slerp')}")
        b, s = f"evaluate.winrate.{f}", f"evaluate.winrate.{f}-slerp"
        if b + ".w_n" in r:
            wr.append(f"{f} {r.f(b + '.w_n', '.3f')} → {r.f(s + '.w_n', '.3f')} (SLERP; {r.f(s + '.tie', 'd')} of "
                      f"{r.f(s + '.n', 'd')} pairs tied)")
    out.append(f"- 06: held-out fact accuracy (chance 0.25): {'; '.join(acc) or NA}. Win-rate W/N against the reference "
               f"model: {'; '.join(wr) or NA} (paper, Qwen2.5-7B: {paper_text('evaluate.qwen_winrate_base')} → "
               f"{paper_text('evaluate.qwen_winrate_adapted')}).")
    q = lambda lab, k: r.f(f"evaluate.quality.{lab}.{k}")  # noqa: E731
    fmt = "; ".join(f"{f} {q(f, 'in_format_rate')} → CPT {q(f + '-cpt', 'in_format_rate')} → SLERP "
                    f"{q(f + '-slerp', 'in_format_rate')} (distinct answers / N {q(f, 'distinct_share')} → "
                    f"{q(f + '-cpt', 'distinct_share')} → {q(f + '-slerp', 'distinct_share')})" for f in fams)
    ref = r.v.get("evaluate.reference")
    gen = "; ".join(f"{lab} {r.ci(f'evaluate.general.{lab}.acc')}" for lab in [*fams, *([ref] if ref else [])])
    cos = "; ".join(f"{f}: CPT {r.f(f'evaluate.weights.{f}-cpt.attention', '.3f')} (attention), "
                    f"{r.f(f'evaluate.weights.{f}-cpt.mlp', '.3f')} (MLP); general perplexity "
                    f"{r.f(f'evaluate.general.{f}-cpt.ppl_ratio', '.1f')}x the base's" for f in fams)
    out.append(f"- 06: answers in format (ended, a German sentence of at least 3 words, not degenerate): {fmt or NA}. "
               f"General-question accuracy (chance 0.25): {gen or NA}. Base vs CPT weights, mean cosine per tensor: "
               f"{cos or NA}.")
    out.append(f"- 07: detectors on planted noise: language mixing precision {r.f('failure.detector.mixing.precision')} / "
               f"recall {r.f('failure.detector.mixing.recall')}, typos {r.f('failure.detector.typos.precision')} / "
               f"{r.f('failure.detector.typos.recall')}. " + (
                   f"On real German text (development half: {r.f('failure.realtext.letters.n_docs', 'd')} GraSCCo "
                   f"clinical letters, {r.f('failure.realtext.web.n_docs', 'd')} FineWeb2 web pages; flags checked by "
                   f"hand) the typo detector flags {r.f('failure.realtext.letters.typo_per_1000', '.1f')} words per 1,000 "
                   f"in the letters at precision {r.f('failure.realtext.letters.typo_precision')} "
                   f"({r.f('failure.realtext.web.typo_precision')} on web text), language mixing flags "
                   f"{r.f('failure.realtext.letters.mixing_false', 'd')} letters wrongly and has precision "
                   f"{r.f('failure.realtext.web.mixing_precision')} on web pages, and "
                   f"{r.f('failure.realtext.letters.split_error_rate', '.0%')} of checked sentence boundaries in the "
                   f"letters are wrong." if r.v.get("failure.realtext.letters.n_docs") is not None else
                   "The real-text report (shared/realtext/, docs/failure.md) was not part of this results file."))
    return "\n".join(out)


def _labeling(r: V) -> str:
    return "\n".join([
        "| quantity | ours | paper |", "|---|---|---|",
        f"| F1 (%) vs experts [95 % CI] | {r.ci('label.f1', '.1f', 100)} | {paper_text('label.f1')} (Mixtral-8x7B) |",
        f"| precision / recall | {r.f('label.precision', '.3f')} / {r.f('label.recall', '.3f')} | — |",
        f"| Cohen's kappa [95 % CI] | {r.ci('label.kappa', '.3f')} | — |",
        f"| second expert vs first: F1 (%) | {r.pct('label.human_f1')} | — |",
        f"| non-medical documents labelled medical | {r.f('label.false_positives', 'd')} of {r.f('label.n_expert', 'd')} expert documents | — |",
    ])


def _filtering(r: V) -> str:
    rows = ["| quantity | ours | paper |", "|---|---|---|",
            f"| FineMed-de documents | {r.f('filter.n_kept', ',d')} | 7.3M |",
            f"| full corpus documents | {r.f('filter.n_docs', ',d')} | 427.7M |",
            f"| share of documents kept | {r.pct('filter.kept_share', 2)} % | 1.71 % |",
            f"| filter precision vs generator truth | {r.ci('filter.precision', '.3f')} | (classifier) {paper_text('classifier.precision')} |",
            f"| filter recall vs generator truth | {r.ci('filter.recall', '.3f')} | (classifier) {paper_text('classifier.recall')} |"]
    doms = [d for d in ("medical", "borderline", "general") if f"filter.{d}.docs" in r]
    text = ", ".join(f"{r.f(f'filter.{d}.kept', ',d')} of {r.f(f'filter.{d}.docs', ',d')} {d}" for d in doms)
    return "\n".join(rows) + (f"\n\nKept per domain of the generator's truth: {text}. The largest non-medical topic in "
                              f"FineMed-de is {r.f('filter.top_leak.topic')}: {r.f('filter.top_leak.kept', ',d')} of its "
                              f"{r.f('filter.top_leak.docs', ',d')} documents pass, "
                              f"{r.pct('filter.top_leak.share_of_finemed')} % of FineMed-de." if doms else "")


def _training(r: V) -> str:
    fams = r.families()
    rows = ["| | " + " | ".join(fams) + " |", "|---|" + "---|" * len(fams),
            "| held-out medical perplexity before → after | " + " | ".join(
                f"{r.f(f'cpt.{f}.ppl_medical_before', ',.1f')} → {r.f(f'cpt.{f}.ppl_medical_after')}" for f in fams) + " |",
            "| held-out general perplexity before → after | " + " | ".join(
                f"{r.f(f'cpt.{f}.ppl_general_before', ',.1f')} → {r.f(f'cpt.{f}.ppl_general_after', ',.1f')}" for f in fams) + " |",
            "| median exposures per fact (share of facts ≥ 200) | " + " | ".join(
                f"{r.f(f'cpt.{f}.median_exposures', '.0f')} ({r.pct(f'cpt.{f}.share_facts_over_200', 0)} %)" for f in fams) + " |"]
    return "\n".join(rows)


def _merging(r: V) -> str:
    rows = ["| model | medical ppl | general ppl | end-of-turn rate |", "|---|---|---|---|"]
    for f in r.families():
        for lab in (f, f"{f}-cpt", f"{f}-slerp"):
            rows.append(f"| {lab} | {r.f(f'merge.{lab}.ppl_medical', ',.1f')} | {r.f(f'merge.{lab}.ppl_general', ',.1f')} "
                        f"| {r.f(f'merge.{lab}.format_rate')} |")
    return "\n".join(rows)


RENDERERS: dict[str, Callable[[V], str]] = {"readme": _readme, "labeling": _labeling, "filtering": _filtering,
                                            "training": _training, "merging": _merging}


def documents() -> list[Path]:
    """Files that may hold generated blocks."""
    return [paths.ROOT / "README.md", *sorted((paths.ROOT / "docs").glob("*.md"))]


def blocks(text: str) -> list[str]:
    return [m.group("name") for m in _BLOCK.finditer(text)]


def render(text: str, res: dict) -> str:
    """`text` with every generated block re-rendered from `res`."""
    r = V(res)

    def sub(m: re.Match) -> str:
        name = m.group("name")
        if name not in RENDERERS:
            raise KeyError(f"unknown generated block '{name}' (known: {', '.join(RENDERERS)})")
        return m.group(1) + RENDERERS[name](r).rstrip("\n") + "\n" + m.group(4)

    return _BLOCK.sub(sub, text)


def rewrite(files: list[Path], render_text: Callable[[str], str]) -> list[Path]:
    """Rewrite each file as `render_text` renders it; return the files that changed."""
    from definemed import io

    changed = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        new = render_text(text)
        if new != text:
            io.write_text(f, new)
            changed.append(f)
    return changed


def update(res: dict) -> list[Path]:
    """Rewrite the generated blocks of README.md and docs/*.md; return the files that changed."""
    return rewrite(documents(), lambda text: render(text, res))
