"""The claims table: paper claim | paper number | ours (95% CI) | rule | reproduced, every cell computed
from the results file (`definemed.report.results.collect`), never typed; and `chain`, the paper's
mechanism read link by link from the same numbers.

Every row states its rule in the `rule` column (one rule per row type, RULES) and shows a 95 %
interval for every number it decides on (percentile bootstrap, `definemed.numerics`; paired over the
same questions where two models answer them). The verdicts:
- "yes": the interval supports the paper's statement; "no": the interval contradicts it;
  "inconclusive": the interval contains both (e.g. a change whose interval contains 0);
- "partly": a claim about several model families (or subjects) holds for some of them only;
- "not testable here", with the measured reason in the cell: the tiny world cannot produce the
  phenomenon (a one-sentence answer cannot contradict itself; typo counts that are mis-copied invented
  names measure name copying, not spelling);
- "not comparable": our quantity is not the paper's (the synthetic corpus plants its medical share);
- "not run": the stage that measures it has not run (or every number it needs is None), or this
  repository does not run the experiment (the reason is in the cell).
"""
from __future__ import annotations

import pandas as pd

from definemed.reported import paper_direction, paper_text, paper_value

COLUMNS = ["paper claim", "paper number", "ours (95% CI)", "rule", "reproduced"]
VERDICTS = ("yes", "partly", "inconclusive", "no", "not testable here", "not comparable", "not run")
SENTENCE_MODES = ("typos", "language_mixing")
"""Failure modes stage 07 counts only on answers that are sentences (a fragment has no spelling or language)."""
COMPARABLE_MARGIN = 0.05
"""Two accuracies are comparable when the 95 % interval of their difference contains 0 and lies within
this margin (5 accuracy points; fixed before any result was read, not tuned to one)."""
MIN_OPPORTUNITY = 0.10
"""A failure mode is testable only when at least this share of the compared answers could show it (two
or more sentences for contradictions, a hedging marker for overconfidence)."""
MAX_NAME_TYPOS = 0.5
"""Typo counts are not spelling when at least this share of the flagged words are mis-copied invented
names of the fact bank."""

RULES = {
    "range": "yes if our 95 % CI overlaps the paper's value ± spread, else no",
    "operating point": "yes if the precision CI reaches the paper's precision and lies above the recall CI; "
                       "no if below either; else inconclusive",
    "share": "not comparable: a census of another corpus (tiny: the synthetic corpus plants its medical share)",
    "change": "per family: the paired 95 % CI of the change on the paper's side of 0 = yes, on the other = no, "
              "containing 0 = inconclusive; all families yes = yes, some = partly",
    "failure": "as a change, base → SLERP over the same sampled answers (share flagged); "
               "not testable here: the measured reason",
    "comparable": f"per subject: yes if the paired 95 % CI of SLERP − reference accuracy contains 0 and lies within "
                  f"±{COMPARABLE_MARGIN:.2f}, no if it excludes 0, else inconclusive; all subjects yes = yes",
    "not run": "not run in this repository (reason in the cell)",
}
"""One rule per row type, as the `rule` column shows it (docs/evaluation.md states them in full)."""


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


def direction(lo: float, hi: float, want: str) -> str:
    """'yes' / 'no' / 'inconclusive': does the interval [lo, hi] of a change lie on the side of 0 the
    paper reports (`want`: 'up' or 'down')?"""
    if want not in ("up", "down"):
        raise ValueError(f"direction: want must be 'up' or 'down', got {want!r}")
    up, down = lo > 0, hi < 0
    if (up and want == "up") or (down and want == "down"):
        return "yes"
    if up or down:
        return "no"
    return "inconclusive"


def comparable(lo: float, hi: float, margin: float = COMPARABLE_MARGIN) -> str:
    """'yes' when the interval of a difference contains 0 and lies within ±margin, 'no' when it excludes
    0, else 'inconclusive'."""
    if lo > 0 or hi < 0:
        return "no"
    return "yes" if -margin <= lo and hi <= margin else "inconclusive"


def combine(verdicts: list[str]) -> str:
    """One verdict for a row from its per-family (or per-subject) verdicts: yes when all are yes, partly
    when some are, not testable here when all are, else no when any is no, else inconclusive."""
    if not verdicts:
        return "not run"
    if all(x == "yes" for x in verdicts):
        return "yes"
    if any(x == "yes" for x in verdicts):
        return "partly"
    if all(x == "not testable here" for x in verdicts):
        return "not testable here"
    return "no" if "no" in verdicts else "inconclusive"


def _families(v: dict, prefix: str, suffix: str) -> list[str]:
    return sorted({k[len(prefix):-len(suffix)] for k in v if k.startswith(prefix) and k.endswith(suffix)})


def _small_families(v: dict) -> list[str]:
    """Model families with a CPT model (from the CPT perplexity keys)."""
    return _families(v, "cpt.", ".ppl_medical_after")


def _paper_family(fam: str) -> str | None:
    return "mistral" if fam.startswith("mistral-7b") else "qwen" if fam.startswith("qwen") else None


def not_testable_reason(v: dict, fam: str, mode: str) -> str | None:
    """Why the tiny world cannot show failure `mode` for family `fam` (base vs SLERP), measured; None
    when it can. Rules: no answer of either model shows the mode; contradictions need answers of two
    or more sentences and overconfidence needs hedged answers (MIN_OPPORTUNITY of the answers); typo
    counts are not spelling when MAX_NAME_TYPOS of the flagged words are mis-copied invented names."""
    b, s = f"failure.{fam}", f"failure.{fam}-slerp"
    nb, ns = v.get(b + ".n"), v.get(s + ".n")
    if mode == "contradiction" and _have(v, b + ".multi_sentence", s + ".multi_sentence") and nb and ns:
        mb, ms = v[b + ".multi_sentence"], v[s + ".multi_sentence"]
        if (mb + ms) < MIN_OPPORTUNITY * (nb + ns):
            return (f"{mb} of {nb} base and {ms} of {ns} SLERP answers have two or more sentences "
                    f"(a one-sentence answer cannot contradict itself)")
    if mode == "overconfidence" and _have(v, b + ".hedged", s + ".hedged") and nb and ns:
        hb, hs = v[b + ".hedged"], v[s + ".hedged"]
        if (hb + hs) < MIN_OPPORTUNITY * (nb + ns):
            return (f"{hb} of {nb} base and {hs} of {ns} SLERP answers contain a hedging marker, so "
                    "overconfidence counts the hallucinations again")
    if mode == "typos" and _have(v, b + ".typo_words", s + ".typo_words", b + ".typo_words_names",
                                 s + ".typo_words_names"):
        w = v[b + ".typo_words"] + v[s + ".typo_words"]
        names = v[b + ".typo_words_names"] + v[s + ".typo_words_names"]
        if w and names >= MAX_NAME_TYPOS * w:
            return (f"{names} of the {w} flagged words are mis-copied invented fact-bank names, so the count "
                    "measures name copying, not spelling")
    if v.get(f"{b}.{mode}") == 0 and v.get(f"{s}.{mode}") == 0:
        return f"no answer of either model shows it (0 of {_of(v, fam, mode)} and 0 of {_of(v, fam + '-slerp', mode)})"
    return None


def claims_table(res: dict) -> pd.DataFrame:
    v = res["values"]
    rows = []

    def row(claim, paper, ours, rule, verdict):
        if verdict not in VERDICTS:
            raise ValueError(f"claims: verdict {verdict!r} is not one of {VERDICTS}")
        rows.append(dict(zip(COLUMNS, (claim, paper, ours or "—", RULES[rule], verdict))))

    # 01: LLM labels against the experts
    if _have(v, *_ci_keys("label.f1")):
        p = paper_value("label.f1")
        lo, hi = p["value"] - p["pm"], p["value"] + p["pm"]
        overlap = v["label.f1_lo"] * 100 <= hi and v["label.f1_hi"] * 100 >= lo
        who = " (lexicon stand-in for Mixtral)" if v.get("label.stand_in") else ""
        row("LLM labels agree with human experts", f"F1 {paper_text('label.f1')}",
            f"F1 {100 * v['label.f1']:.1f} [{100 * v['label.f1_lo']:.1f}, {100 * v['label.f1_hi']:.1f}]{who}",
            "range", "yes" if overlap else "no")
    else:
        row("LLM labels agree with human experts", f"F1 {paper_text('label.f1')}", None, "range", "not run")

    # 02: precision-first classifier at threshold 0.9: precision reaches the paper's and lies above recall
    claim = f"classifier at threshold {paper_text('classifier.threshold')}: precision over recall"
    paper = f"P {paper_text('classifier.precision')}, R {paper_text('classifier.recall')}"
    pk, rk = "classifier.expert.precision", "classifier.expert.recall"
    if _have(v, *_ci_keys(pk), *_ci_keys(rk)):
        pp = paper_value("classifier.precision")["value"]
        if v[pk + "_hi"] >= pp and v[pk + "_lo"] > v[rk + "_hi"]:
            verdict = "yes"
        elif v[pk + "_hi"] < pp or v[pk + "_hi"] < v[rk + "_lo"]:
            verdict = "no"
        else:
            verdict = "inconclusive"
        row(claim, paper, f"P {_ci(v, pk)}, R {_ci(v, rk)} (expert labels)", "operating point", verdict)
    else:
        row(claim, paper, None, "operating point", "not run")

    # 03: FineMed-de is a small share of the web corpus
    if "filter.kept_share" in v:
        planted = f"; the synthetic corpus plants {100 * v['corpus.medical_share']:.1f} % medical" \
            if "corpus.medical_share" in v else ""
        row("FineMed-de is a small medical subset of the web corpus",
            f"{100 * paper_value('corpus.finemed_share')['value']:.2f} % of documents (7.3M of 427.7M)",
            f"{100 * v['filter.kept_share']:.1f} % kept (a count over every document: no sampling interval){planted}",
            "share", "not comparable")

    fams = _small_families(v)
    # 06: CPT raises medical accuracy (held-out fact sentences when present, else every benchmark group)
    cells, verdicts = [], []
    for fam in fams:
        keys = [k[: -len(".cpt_gain_lo")] for k in v if k.startswith(f"evaluate.{fam}.") and k.endswith(".cpt_gain_lo")
                and ".general." not in k]
        facts = [k for k in keys if ".facts." in k or ".sentence" in k] or keys
        for k in sorted(k for k in facts if _have(v, k + ".base", k + ".cpt", *_ci_keys(k + ".cpt_gain_pts", k + ".cpt_gain"))):
            bench = k[len(f"evaluate.{fam}."):]
            cells.append(f"{fam} {bench}: {v[k + '.base']:.2f} → {v[k + '.cpt']:.2f} "
                         f"({v[k + '.cpt_gain_pts']:+.1f} pts [{v[k + '.cpt_gain_lo']:+.1f}, {v[k + '.cpt_gain_hi']:+.1f}])")
            verdicts.append(direction(v[k + ".cpt_gain_lo"], v[k + ".cpt_gain_hi"], "up"))
    row("CPT raises medical knowledge (accuracy)", "gains for every architecture", "; ".join(cells), "change",
        combine(verdicts))

    # 06: Mistral-7B CPT average gain (relative, mean over the medical benchmark groups, stratified bootstrap)
    mistral = [f for f in fams if _paper_family(f) == "mistral" and _have(v, *_ci_keys(f"evaluate.{f}.cpt_rel_pct_avg"))]
    row("Mistral-7B CPT: average gain over the benchmarks", f"+{paper_text('evaluate.mistral_cpt_gain_pct')} %",
        "; ".join(f"{f}: {_ci(v, f'evaluate.{f}.cpt_rel_pct_avg', '+.1f')} % (relative, mean over the medical "
                  "benchmark groups)" for f in mistral), "change",
        combine([direction(v[f"evaluate.{f}.cpt_rel_pct_avg_lo"], v[f"evaluate.{f}.cpt_rel_pct_avg_hi"], "up")
                 for f in mistral]))

    # 06: the adapted Qwen model wins more often against the larger model
    qwen = [f for f in fams if _paper_family(f) == "qwen" and _have(
        v, *_ci_keys(f"evaluate.winrate_change.{f}-slerp.diff"), *_ci_keys(f"evaluate.winrate.{f}.w_n"),
        *_ci_keys(f"evaluate.winrate.{f}-slerp.w_n"), *(f"evaluate.winrate.{f}-slerp.{x}" for x in ("tie", "n")))]
    cells = []
    for f in qwen:
        b, a, c = f"evaluate.winrate.{f}", f"evaluate.winrate.{f}-slerp", f"evaluate.winrate_change.{f}-slerp"
        cells.append(f"{f}: W/N {_ci(v, b + '.w_n', '.3f')} → {_ci(v, a + '.w_n', '.3f')}, change "
                     f"{_ci(v, c + '.diff', '+.3f')} (paired); ties {v[a + '.tie']}/{v[a + '.n']}")
    row("adapted Qwen2.5-7B wins more often against the larger model",
        f"W/N {paper_text('evaluate.qwen_winrate_base')} → {paper_text('evaluate.qwen_winrate_adapted')} "
        f"(about {paper_text('evaluate.qwen_winrate_ratio')}x)", "; ".join(cells), "change",
        combine([direction(v[f"evaluate.winrate_change.{f}-slerp.diff_lo"],
                           v[f"evaluate.winrate_change.{f}-slerp.diff_hi"], "up") for f in qwen]))

    # 06: DeFineMed-Qwen2.5-7B-SLERP comparable to the 24B model on anatomy and clinical knowledge
    cells, verdicts = [], []
    subjects = v.get("evaluate.mmlu_subjects")
    for f in (f for f in fams if _paper_family(f) == "qwen"):
        for subj, name in (("anatomy", "Anatomy"), ("clinical_knowledge", "Clinical Knowledge")):
            stem = f"evaluate.vs_reference.{f}-slerp.{subj}."
            fmts = sorted({k[len(stem):].split(".")[0] for k in v if k.startswith(stem)})
            fmts = [x for x in fmts if _have(v, *_ci_keys(f"{stem}{x}.diff"), f"{stem}{x}.acc",
                                             f"{stem}{x}.reference_acc", f"{stem}{x}.n")]
            if not fmts and subjects is not None:
                cells.append(f"{name}: not testable here (no such subject in this run: {subjects})")
                verdicts.append("not testable here")
            for x in fmts:
                k = f"{stem}{x}"
                cells.append(f"{f}-slerp {name} ({x}, n={v[k + '.n']}): {v[k + '.acc']:.2f} vs reference "
                             f"{v[k + '.reference_acc']:.2f}, difference {_ci(v, k + '.diff', '+.2f')}")
                verdicts.append(comparable(v[k + ".diff_lo"], v[k + ".diff_hi"]))
    row("DeFineMed-Qwen2.5-7B-SLERP comparable to the 24B model on Anatomy and Clinical Knowledge",
        "qualitative (per-subject numbers not public)", "; ".join(cells), "comparable", combine(verdicts))

    # 06: the paper's 24B merge
    row("at the larger size the base model sometimes beats its merge", "qualitative (Mistral-Small-24B)",
        "this repository continues pre-training and merges only the small families; the reference (24B stand-in) "
        "is used as released, so no larger merge exists to compare", "not run", "not run")

    # 06: SLERP restores instruction following after CPT: in-format answers (stage 06), SLERP vs CPT, paired
    cells, verdicts = [], []
    for f in fams:
        c, s, d = f"evaluate.quality.{f}-cpt", f"evaluate.quality.{f}-slerp", f"evaluate.format_change.{f}.slerp_vs_cpt"
        if not _have(v, *_ci_keys(c + ".in_format_rate"), *_ci_keys(s + ".in_format_rate"), *_ci_keys(d + ".diff")):
            continue
        verdicts.append(direction(v[d + ".diff_lo"], v[d + ".diff_hi"], "up"))
        cells.append(f"{f}: in format {_ci(v, c + '.in_format_rate')} (CPT) → {_ci(v, s + '.in_format_rate')} (SLERP), "
                     f"change {_ci(v, d + '.diff', '+.2f')}")
    row("SLERP merging restores instruction following after CPT", "qualitative (CPT → SLERP)", "; ".join(cells),
        "change", combine(verdicts))

    # 06: the merge keeps the knowledge CPT added: paired SLERP gain over base on held-out facts
    cells, verdicts = [], []
    for f in fams:
        k = fact_key(v, f)
        if k is None or not _have(v, k + ".base", k + ".slerp", *_ci_keys(k + ".slerp_gain_pts", k + ".slerp_gain")):
            continue
        verdicts.append(direction(v[k + ".slerp_gain_lo"], v[k + ".slerp_gain_hi"], "up"))
        cells.append(f"{f} {k[len(f'evaluate.{f}.'):]}: {v[k + '.base']:.2f} → {v[k + '.slerp']:.2f} "
                     f"({_ci(v, k + '.slerp_gain_pts', '+.1f', k + '.slerp_gain')} pts)")
    row("the merge keeps the knowledge CPT added (SLERP vs base, held-out facts)", "qualitative", "; ".join(cells),
        "change", combine(verdicts))

    # 07: failure modes, base → SLERP, paired over the same sampled answers
    for mode, claim, paper in (
            ("language_mixing", "language mixing rises (Mistral-7B)", "12 → 207 of 216"),
            ("typos", "typos: Qwen2.5-7B down, Mistral-7B up", "Qwen 118 → 41, Mistral 85 → 125"),
            ("hallucination", "fewer hallucinations after specialisation", "qualitative"),
            ("overconfidence", "less overconfidence after specialisation", "qualitative"),
            ("contradiction", "fewer contradictions after specialisation", "qualitative")):
        cells, verdicts = [], []
        for f in fams:
            want = paper_direction(mode, f)
            b, s, d = f"failure.{f}.{mode}", f"failure.{f}-slerp.{mode}", f"failure.change.{f}-slerp.{mode}.diff"
            if want is None or not _have(v, b, s):
                continue
            counts = f"{f}: {v[b]} of {_of(v, f, mode)} → {v[s]} of {_of(v, f + '-slerp', mode)}"
            why = not_testable_reason(v, f, mode)
            if why is not None:
                cells.append(f"{counts}; not testable here: {why}")
                verdicts.append("not testable here")
            elif _have(v, *_ci_keys(d)):
                cells.append(f"{counts}, flagged share {_ci(v, d, '+.3f')} (paired, paper: {want})")
                verdicts.append(direction(v[d + "_lo"], v[d + "_hi"], want))
        row(claim, paper, "; ".join(cells), "failure", combine(verdicts))

    # 07: verbosity = words per answer / the reference model's words on the same question, base → SLERP (paired)
    cells, verdicts = [], []
    for f in fams:
        k = f"failure.verbosity_change.{f}-slerp"
        if not _have(v, *_ci_keys(k + ".diff"), *_ci_keys(f"failure.{f}.length_ratio"),
                     *_ci_keys(f"failure.{f}-slerp.length_ratio")):
            continue
        verdicts.append(direction(v[k + ".diff_lo"], v[k + ".diff_hi"], "up"))
        cells.append(f"{f}: length ratio to the reference {_ci(v, f'failure.{f}.length_ratio')} → "
                     f"{_ci(v, f'failure.{f}-slerp.length_ratio')}, change {_ci(v, k + '.diff', '+.2f')}")
    row("verbosity rises after specialisation", "qualitative", "; ".join(cells), "failure", combine(verdicts))
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
