"""The claims table: paper claim | paper number | ours (95% CI) | reproduced, every cell computed from
the results file (`definemed.report.results.collect`), never typed; and `chain`, the paper's mechanism
read link by link from the same numbers.

The verdict rules, per row (stated in the table's `rule` column too):
- a number with a spread (label F1 91.1 ± 2.5): "yes" when our 95 % interval overlaps the paper's range;
- a level (classifier precision 0.95 / recall 0.8): "yes" when our estimate reaches it, per quantity;
- a change (CPT gains, win-rates, failure counts): "yes" when the change goes the paper's way for
  every model family the claim is about (beyond the 95 % interval where we have one), "partly" for
  some, "no" for none;
- "not comparable" where the tiny profile's stand-in cannot say (the corpus size), "not run" when the
  stage that measures it has not run yet (or every number it needs is None: a degenerate run).
"""
from __future__ import annotations

import pandas as pd

from definemed.reported import paper_text, paper_value

COLUMNS = ["paper claim", "paper number", "ours (95% CI)", "reproduced"]
SENTENCE_MODES = ("typos", "language_mixing")
"""Failure modes stage 07 counts only on answers that are sentences (a fragment has no spelling or language)."""


def _have(v: dict, *keys: str) -> bool:
    """Every key is present and not None (a degenerate run leaves some None: such a cell is left out)."""
    return all(v.get(k) is not None for k in keys)


def _ci_keys(key: str, stem: str | None = None) -> tuple[str, str, str]:
    """The key of an estimate and of its interval ends (`<stem>_lo`, `<stem>_hi`; stem = key by default)."""
    return key, f"{stem or key}_lo", f"{stem or key}_hi"


def _ci(v: dict, key: str, fmt: str = ".2f", stem: str | None = None) -> str:
    k, lo, hi = _ci_keys(key, stem)
    return f"{v[k]:{fmt}} [{v[lo]:{fmt}}, {v[hi]:{fmt}}]"


def _of(v: dict, label: str, mode: str):
    """What a failure count is out of: answers that are sentences for typos and language mixing, else all."""
    k = f"failure.{label}.sentences" if mode in SENTENCE_MODES else f"failure.{label}.n"
    return v.get(k, v.get(f"failure.{label}.n", "?"))


def fact_key(v: dict, fam: str) -> str | None:
    """The results key stem of a family's held-out fact benchmark (else its first medical benchmark)."""
    keys = sorted(k[: -len(".base")] for k in v if k.startswith(f"evaluate.{fam}.") and k.endswith(".base")
                  and ".general." not in k)
    facts = [k for k in keys if ".facts." in k or "sentence" in k]
    return (facts or keys or [None])[0]


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
        rows.append(dict(zip(COLUMNS, (claim, paper, ours or "—", verdict))))

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
        keys = [k[: -len(".cpt_gain_lo")] for k in v if k.startswith(f"evaluate.{fam}.") and k.endswith(".cpt_gain_lo")
                and ".general." not in k]
        facts = [k for k in keys if ".facts." in k or ".sentence" in k] or keys
        for k in sorted(k for k in facts if _have(v, k + ".base", k + ".cpt", *_ci_keys(k + ".cpt_gain_pts", k + ".cpt_gain"))):
            bench = k[len(f"evaluate.{fam}."):]
            cells.append(f"{fam} {bench}: {v[k + '.base']:.2f} → {v[k + '.cpt']:.2f} "
                         f"({v[k + '.cpt_gain_pts']:+.1f} pts [{v[k + '.cpt_gain_lo']:+.1f}, {v[k + '.cpt_gain_hi']:+.1f}])")
            ok += v[k + ".cpt_gain_lo"] > 0
    row("CPT raises medical knowledge (accuracy)", "gains for every architecture", "; ".join(cells), _verdict(ok, len(cells)))

    # 06: Mistral-7B CPT average gain
    mistral = [f for f in fams if _paper_family(f) == "mistral" and v.get(f"evaluate.{f}.cpt_rel_pct_avg") is not None]
    row("Mistral-7B CPT: average gain over the benchmarks", f"+{paper_text('evaluate.mistral_cpt_gain_pct')} %",
        "; ".join(f"{f}: {v[f'evaluate.{f}.cpt_rel_pct_avg']:+.1f} % (relative, mean over the medical benchmark groups)"
                  for f in mistral),
        _verdict(sum(v[f"evaluate.{f}.cpt_rel_pct_avg"] > 0 for f in mistral), len(mistral)))

    # 06: the adapted Qwen model wins more often against the larger model
    qwen = [f for f in fams if _paper_family(f) == "qwen" and _have(
        v, *_ci_keys(f"evaluate.winrate_change.{f}-slerp.diff"), f"evaluate.winrate.{f}.w_n",
        *(f"evaluate.winrate.{f}-slerp.{x}" for x in ("w_n", "tie", "n")))]
    cells = []
    for f in qwen:
        b, a, c = f"evaluate.winrate.{f}", f"evaluate.winrate.{f}-slerp", f"evaluate.winrate_change.{f}-slerp"
        cells.append(f"{f}: W/N {v[b + '.w_n']:.3f} → {v[a + '.w_n']:.3f} (change {v[c + '.diff']:+.3f} "
                     f"[{v[c + '.diff_lo']:+.3f}, {v[c + '.diff_hi']:+.3f}]; ties {v[a + '.tie']}/{v[a + '.n']})")
    row("adapted Qwen2.5-7B wins more often against the larger model",
        f"W/N {paper_text('evaluate.qwen_winrate_base')} → {paper_text('evaluate.qwen_winrate_adapted')} "
        f"(about {paper_text('evaluate.qwen_winrate_ratio')}x)",
        "; ".join(cells), _verdict(sum(v[f"evaluate.winrate_change.{f}-slerp.diff_lo"] > 0 for f in qwen), len(qwen)))

    # 06: SLERP restores instruction following after CPT: in-format answers (stage 06), SLERP vs CPT, paired
    cells, ok, n = [], 0, 0
    for f in fams:
        c, s, d = f"evaluate.quality.{f}-cpt", f"evaluate.quality.{f}-slerp", f"evaluate.format_change.{f}.slerp_vs_cpt"
        if not _have(v, *_ci_keys(c + ".in_format_rate"), *_ci_keys(s + ".in_format_rate"), *_ci_keys(d + ".diff")):
            continue
        n += 1
        ok += v[d + ".diff_lo"] > 0
        cells.append(f"{f}: in format {_ci(v, c + '.in_format_rate')} (CPT) → {_ci(v, s + '.in_format_rate')} (SLERP), "
                     f"change {_ci(v, d + '.diff', '+.2f')}")
    row("SLERP merging restores instruction following after CPT", "qualitative (CPT → SLERP)", "; ".join(cells),
        _verdict(ok, n))

    # 06: the merge keeps the knowledge CPT added: paired SLERP gain over base on held-out facts
    cells, ok, n = [], 0, 0
    for f in fams:
        k = fact_key(v, f)
        if k is None or not _have(v, k + ".base", k + ".slerp", *_ci_keys(k + ".slerp_gain_pts", k + ".slerp_gain")):
            continue
        n += 1
        ok += v[k + ".slerp_gain_lo"] > 0
        cells.append(f"{f} {k[len(f'evaluate.{f}.'):]}: {v[k + '.base']:.2f} → {v[k + '.slerp']:.2f} "
                     f"({_ci(v, k + '.slerp_gain_pts', '+.1f', k + '.slerp_gain')} pts)")
    row("the merge keeps the knowledge CPT added (SLERP vs base, held-out facts)", "qualitative", "; ".join(cells),
        _verdict(ok, n))

    # 07: failure modes, base → SLERP (typos and language mixing: counted on answers that are sentences)
    for mode, claim, paper, want in (
            ("language_mixing", "language mixing rises (Mistral-7B)", "12 → 207 of 216", {"mistral": "up"}),
            ("typos", "typos: Qwen2.5-7B down, Mistral-7B up", "Qwen 118 → 41, Mistral 85 → 125",
             {"qwen": "down", "mistral": "up"}),
            ("hallucination", "fewer hallucinations after specialisation", "qualitative", {"mistral": "down", "qwen": "down"}),
            ("overconfidence", "less overconfidence after specialisation", "qualitative", {"mistral": "down", "qwen": "down"}),
            ("contradiction", "fewer contradictions after specialisation", "qualitative", {"mistral": "down", "qwen": "down"})):
        cells, ok, n = [], 0, 0
        for f in fams:
            d = want.get(_paper_family(f) or "")
            b, s = v.get(f"failure.{f}.{mode}"), v.get(f"failure.{f}-slerp.{mode}")
            if d is None or b is None or s is None:
                continue
            n += 1
            ours = "up" if s > b else "down" if s < b else "same"
            ok += ours == d
            cells.append(f"{f}: {b} of {_of(v, f, mode)} → {s} of {_of(v, f + '-slerp', mode)} ({ours})")
        row(claim, paper, "; ".join(cells), _verdict(ok, n))

    # 07: verbosity = words per answer / the reference model's words on the same question, base → SLERP (paired)
    cells, ok, n = [], 0, 0
    for f in fams:
        k = f"failure.verbosity_change.{f}-slerp"
        if not _have(v, *_ci_keys(k + ".diff"), *_ci_keys(f"failure.{f}.length_ratio"),
                     *_ci_keys(f"failure.{f}-slerp.length_ratio")):
            continue
        n += 1
        ok += v[k + ".diff_lo"] > 0
        cells.append(f"{f}: length ratio to the reference {_ci(v, f'failure.{f}.length_ratio')} → "
                     f"{_ci(v, f'failure.{f}-slerp.length_ratio')}, change {_ci(v, k + '.diff', '+.2f')}")
    row("verbosity rises after specialisation", "qualitative", "; ".join(cells), _verdict(ok, n))
    return pd.DataFrame(rows, columns=COLUMNS)


CHANCE = 0.25
"""Accuracy of guessing among the 4 options of the general questions."""
COMPETENT_FORMAT = 0.5
"""An instruct base is competent when the lower end of its in-format interval reaches this share."""


def _holds(ok: bool | None) -> str:
    return "not measured" if ok is None else "holds" if ok else "does not hold"


def chain(res: dict) -> pd.DataFrame:
    """The paper's chain, one row per link and small family, each with the measured numbers and
    "holds" / "does not hold" (or "not measured") by a fixed rule:

    0. the reference is the better general model: its general-question accuracy interval lies above the base's;
    1. the instruct base is competent: in-format interval >= COMPETENT_FORMAT and general accuracy above chance;
    2. CPT injects facts: held-out fact gain of CPT over base above 0 (paired 95 % interval);
    3. CPT erodes the format: in-format change CPT - base below 0 (paired interval);
    4. the merge restores the format and keeps the facts: in-format change SLERP - CPT above 0 and
       held-out fact gain of SLERP over base above 0;
    5. the adapted model wins more often against the reference: W/N change SLERP - base above 0."""
    v = res["values"]
    rows = []
    ref = v.get("evaluate.reference")
    for f in _small_families(v):
        def add(link, ok, measured):
            rows.append({"link": link, "family": f, "measured": measured or "—", "verdict": _holds(ok)})

        g, rg = f"evaluate.general.{f}", f"evaluate.general.{ref}"
        if ref and _have(v, *_ci_keys(g + ".acc"), *_ci_keys(rg + ".acc")):
            add("0. the reference is the better general model", v[rg + ".acc_lo"] > v[g + ".acc_hi"],
                f"general accuracy: reference {_ci(v, rg + '.acc')}, base {_ci(v, g + '.acc')}")
        else:
            add("0. the reference is the better general model", None, None)
        q = f"evaluate.quality.{f}"
        if _have(v, *_ci_keys(q + ".in_format_rate"), *_ci_keys(g + ".acc")):
            add("1. the instruct base is competent",
                v[q + ".in_format_rate_lo"] >= COMPETENT_FORMAT and v[g + ".acc_lo"] > CHANCE,
                f"in format {_ci(v, q + '.in_format_rate')} (needs >= {COMPETENT_FORMAT}), general accuracy "
                f"{_ci(v, g + '.acc')} (chance {CHANCE})")
        else:
            add("1. the instruct base is competent", None, None)
        k = fact_key(v, f)
        cpt = k is not None and _have(v, *_ci_keys(k + ".cpt_gain_pts", k + ".cpt_gain"))
        add("2. CPT injects facts", v[k + ".cpt_gain_lo"] > 0 if cpt else None,
            f"held-out facts {_ci(v, k + '.cpt_gain_pts', '+.1f', k + '.cpt_gain')} pts (CPT - base)" if cpt else None)
        d = f"evaluate.format_change.{f}"
        ero = _have(v, *_ci_keys(d + ".cpt_vs_base.diff"))
        add("3. CPT erodes the answer format", v[d + ".cpt_vs_base.diff_hi"] < 0 if ero else None,
            f"in-format change {_ci(v, d + '.cpt_vs_base.diff', '+.2f')} (CPT - base)" if ero else None)
        res4 = _have(v, *_ci_keys(d + ".slerp_vs_cpt.diff")) and k is not None and \
            _have(v, *_ci_keys(k + ".slerp_gain_pts", k + ".slerp_gain"))
        add("4. the merge restores the format and keeps the facts",
            v[d + ".slerp_vs_cpt.diff_lo"] > 0 and v[k + ".slerp_gain_lo"] > 0 if res4 else None,
            f"in-format change {_ci(v, d + '.slerp_vs_cpt.diff', '+.2f')} (SLERP - CPT); held-out facts "
            f"{_ci(v, k + '.slerp_gain_pts', '+.1f', k + '.slerp_gain')} pts (SLERP - base)" if res4 else None)
        w = f"evaluate.winrate_change.{f}-slerp"
        win = _have(v, *_ci_keys(w + ".diff"))
        add("5. the adapted model wins more often against the reference", v[w + ".diff_lo"] > 0 if win else None,
            f"W/N change {_ci(v, w + '.diff', '+.3f')} (SLERP - base)" if win else None)
    return pd.DataFrame(rows, columns=["link", "family", "measured", "verdict"])


def chain_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per link and family, from `chain` (no softening: the verdict and the number)."""
    return [f"{r.link} ({r.family}): {r.verdict}" + (f": {r.measured}." if r.measured != "—" else ".")
            for r in table.itertuples()]
