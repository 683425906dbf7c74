"""The claims table: paper claim | paper | ours | reproduced?, every cell computed from the results
file (`definemed.report.results.collect`), never typed.

The verdict rules, per row (stated in the table's `rule` column too):
- a number with a spread (label F1 91.1 ± 2.5): "yes" when our 95 % interval overlaps the paper's range;
- a level (classifier precision 0.95 / recall 0.8): "yes" when our estimate reaches it, per quantity;
- a change (CPT gains, win-rates, failure counts): "yes" when the change goes the paper's way for
  every model family the claim is about (beyond the 95 % interval where we have one), "partly" for
  some, "no" for none;
- "not comparable" where the tiny profile's stand-in cannot say (the corpus size), "not run" when the
  stage that measures it has not run yet.
"""
from __future__ import annotations

import pandas as pd

from definemed.reported import paper_text, paper_value

COLUMNS = ["paper claim", "paper", "ours", "reproduced?"]


def _verdict(ok: int, n: int) -> str:
    return "not run" if n == 0 else "yes" if ok == n else "partly" if ok else "no"


def _families(v: dict, prefix: str, suffix: str) -> list[str]:
    return sorted({k[len(prefix):-len(suffix)] for k in v if k.startswith(prefix) and k.endswith(suffix)})


def _small_families(v: dict) -> list[str]:
    """Model families with a CPT model (from the CPT perplexity keys)."""
    return _families(v, "cpt.", ".ppl_medical_after")


def _paper_family(fam: str) -> str | None:
    return "mistral" if fam.startswith("mistral-7b") else "qwen" if fam.startswith("qwen") else None


def claims_table(res: dict) -> pd.DataFrame:
    v = res["values"]
    rows = []

    def row(claim, paper, ours, verdict):
        rows.append({"paper claim": claim, "paper": paper, "ours": ours or "—", "reproduced?": verdict})

    # 01: LLM labels against the experts
    if "label.f1" in v:
        p = paper_value("label.f1")
        lo, hi = p["value"] - p["pm"], p["value"] + p["pm"]
        overlap = v["label.f1_lo"] * 100 <= hi and v["label.f1_hi"] * 100 >= lo
        who = " (lexicon stand-in for Mixtral)" if v.get("label.stand_in") else ""
        row("LLM labels agree with human experts", f"F1 {paper_text('label.f1')}",
            f"F1 {100 * v['label.f1']:.1f} [{100 * v['label.f1_lo']:.1f}, {100 * v['label.f1_hi']:.1f}]{who}",
            "yes" if overlap else "no")
    else:
        row("LLM labels agree with human experts", f"F1 {paper_text('label.f1')}", None, "not run")

    # 02: precision-first classifier at threshold 0.9
    if "classifier.expert.precision" in v:
        P, R = v["classifier.expert.precision"], v["classifier.expert.recall"]
        ok = int(P >= paper_value("classifier.precision")["value"]) + int(R >= paper_value("classifier.recall")["value"])
        row(f"classifier at threshold {paper_text('classifier.threshold')}: precision over recall",
            f"P {paper_text('classifier.precision')}, R {paper_text('classifier.recall')}",
            f"P {P:.2f} [{v['classifier.expert.precision_lo']:.2f}, {v['classifier.expert.precision_hi']:.2f}], "
            f"R {R:.2f} [{v['classifier.expert.recall_lo']:.2f}, {v['classifier.expert.recall_hi']:.2f}] "
            "(expert labels)", _verdict(ok, 2))

    # 03: FineMed-de is a small share of the web corpus
    if "filter.kept_share" in v:
        planted = f"; the synthetic corpus plants {100 * v['corpus.medical_share']:.1f} % medical" \
            if "corpus.medical_share" in v else ""
        row("FineMed-de is a small medical subset of the web corpus",
            f"{100 * paper_value('corpus.finemed_share')['value']:.2f} % of documents (7.3M of 427.7M)",
            f"{100 * v['filter.kept_share']:.1f} % kept{planted}", "not comparable" if planted else "—")

    fams = _small_families(v)
    # 06: CPT raises medical accuracy (held-out fact sentences when present, else every benchmark group)
    cells, ok = [], 0
    for fam in fams:
        keys = [k[: -len(".cpt_gain_lo")] for k in v if k.startswith(f"evaluate.{fam}.") and k.endswith(".cpt_gain_lo")]
        facts = [k for k in keys if ".facts." in k or ".sentence" in k] or keys
        for k in sorted(facts):
            bench = k[len(f"evaluate.{fam}."):]
            cells.append(f"{fam} {bench}: {v[k + '.base']:.2f} → {v[k + '.cpt']:.2f} "
                         f"({v[k + '.cpt_gain_pts']:+.1f} pts [{v[k + '.cpt_gain_lo']:+.1f}, {v[k + '.cpt_gain_hi']:+.1f}])")
            ok += v[k + ".cpt_gain_lo"] > 0
    row("CPT raises medical knowledge (accuracy)", "gains for every architecture", "; ".join(cells), _verdict(ok, len(cells)))

    # 06: Mistral-7B CPT average gain
    mistral = [f for f in fams if _paper_family(f) == "mistral" and v.get(f"evaluate.{f}.cpt_rel_pct_avg") is not None]
    row("Mistral-7B CPT: average gain over the benchmarks", f"+{paper_text('evaluate.mistral_cpt_gain_pct')} %",
        "; ".join(f"{f}: {v[f'evaluate.{f}.cpt_rel_pct_avg']:+.1f} % (relative, mean over benchmark groups)" for f in mistral),
        _verdict(sum(v[f"evaluate.{f}.cpt_rel_pct_avg"] > 0 for f in mistral), len(mistral)))

    # 06: the adapted Qwen model wins more often against the larger model
    qwen = [f for f in fams if _paper_family(f) == "qwen" and v.get(f"evaluate.winrate_change.{f}-slerp.diff") is not None]
    cells = []
    for f in qwen:
        b, a, c = f"evaluate.winrate.{f}", f"evaluate.winrate.{f}-slerp", f"evaluate.winrate_change.{f}-slerp"
        cells.append(f"{f}: W/N {v[b + '.w_n']:.3f} → {v[a + '.w_n']:.3f} (change {v[c + '.diff']:+.3f} "
                     f"[{v[c + '.diff_lo']:+.3f}, {v[c + '.diff_hi']:+.3f}]; ties {v[a + '.tie']}/{v[a + '.n']})")
    row("adapted Qwen2.5-7B wins more often against the larger model",
        f"W/N {paper_text('evaluate.qwen_winrate_base')} → {paper_text('evaluate.qwen_winrate_adapted')} "
        f"(about {paper_text('evaluate.qwen_winrate_ratio')}x)",
        "; ".join(cells), _verdict(sum(v[f"evaluate.winrate_change.{f}-slerp.diff_lo"] > 0 for f in qwen), len(qwen)))

    # 05: SLERP recovers what CPT lost (instruction format, general text)
    merged = [f for f in fams if f"merge.{f}-slerp.format_rate" in v]
    cells, ok = [], 0
    for f in merged:
        c, s = f"merge.{f}-cpt", f"merge.{f}-slerp"
        cells.append(f"{f}: format rate {v[c + '.format_rate']:.2f} → {v[s + '.format_rate']:.2f}, "
                     f"general ppl {v[c + '.ppl_general']:.0f} → {v[s + '.ppl_general']:.0f}")
        ok += v[s + ".format_rate"] > v[c + ".format_rate"] and v[s + ".ppl_general"] < v[c + ".ppl_general"]
    row("SLERP merging restores instruction following after CPT", "qualitative (CPT → SLERP)", "; ".join(cells),
        _verdict(ok, len(merged)))

    # 07: failure modes, base → SLERP
    for mode, claim, paper, want in (
            ("language_mixing", "language mixing rises (Mistral-7B)", "12 → 207 of 216", {"mistral": "up"}),
            ("typos", "typos: Qwen2.5-7B down, Mistral-7B up", "Qwen 118 → 41, Mistral 85 → 125",
             {"qwen": "down", "mistral": "up"}),
            ("verbosity", "verbosity rises after specialisation", "qualitative", {"mistral": "up", "qwen": "up"}),
            ("hallucination", "fewer hallucinations after specialisation", "qualitative", {"mistral": "down", "qwen": "down"})):
        cells, ok, n = [], 0, 0
        for f in fams:
            d = want.get(_paper_family(f) or "")
            b, s = v.get(f"failure.{f}.{mode}"), v.get(f"failure.{f}-slerp.{mode}")
            if d is None or b is None or s is None:
                continue
            n += 1
            ours = "up" if s > b else "down" if s < b else "same"
            ok += ours == d
            cells.append(f"{f}: {b} → {s} of {v[f'failure.{f}.n']} ({ours})")
        row(claim, paper, "; ".join(cells), _verdict(ok, n))
    return pd.DataFrame(rows, columns=COLUMNS)
