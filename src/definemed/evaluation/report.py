"""Tables and figures of stage 06, read only from its parquet outputs (never recomputing scores)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from definemed.config import Config
from definemed.reported import paper_text
from definemed.evaluation import winrate
from definemed.evaluation.stage import stage_dir

# Subjects for which the paper states a comparison (its numbers per subject are not public).
PAPER_SUBJECT_NOTE = {"anatomy": "evaluate.qwen_slerp_vs_24b", "anatomie": "evaluate.qwen_slerp_vs_24b",
                      "clinical_knowledge": "evaluate.qwen_slerp_vs_24b"}


def load(cfg: Config) -> dict[str, pd.DataFrame]:
    d = stage_dir(cfg)
    names = ["accuracy", "loglik", "generations", "judgments", "pair_outcomes", "winrates", "ratios", "winrate_questions",
             "quality", "format_changes", "general", "weights"]
    return {n: pd.read_parquet(d / f"{n}.parquet") for n in names}


def variant_order(cfg: Config) -> list[str]:
    from definemed.evaluation.models import variants

    return [v.label for v in variants(cfg)]


def accuracy_table(acc: pd.DataFrame, order: list[str], fmt: str, num_fewshot: int = 0,
                   metric: str = "acc") -> pd.DataFrame:
    """Subjects (rows) x model variants (columns) for one format and shot count; an 'average' row
    (unweighted mean over subjects, as MMLU reports) and the paper's statement beside."""
    a = acc[(acc.format == fmt) & (acc.num_fewshot == num_fewshot)]
    if a.empty:
        return pd.DataFrame()
    wide = a.pivot_table(index="subject", columns="variant", values=metric, aggfunc="first")
    wide = wide[[v for v in order if v in wide.columns]]
    groups = a.drop_duplicates("subject").set_index("subject")["group"]
    mmlu_rows = [s for s in wide.index if groups[s] == "mmlu"]
    other = [s for s in wide.index if groups[s] != "mmlu"]
    wide = wide.loc[mmlu_rows + other]
    if mmlu_rows:
        wide.loc["MMLU average"] = wide.loc[mmlu_rows].mean()
    n = a.drop_duplicates("subject").set_index("subject")["n"]
    out = wide.reset_index().rename(columns={"subject": "benchmark"})
    out.insert(1, "n", [int(n[s]) if s in n else int(n[mmlu_rows].sum()) for s in wide.index])
    out["paper"] = [paper_text(PAPER_SUBJECT_NOTE[s]) if s in PAPER_SUBJECT_NOTE else "—" for s in wide.index]
    return out


def _per_question(ll: pd.DataFrame, variant: str, group: str, fmt: str, k: int) -> pd.Series:
    x = ll[(ll.variant == variant) & (ll.group == group) & (ll.format == fmt) & (ll.num_fewshot == k)]
    return x.set_index(["task", "id"])["acc"].sort_index()


def family_gains(cfg: Config, ll: pd.DataFrame, num_fewshot: int = 0) -> pd.DataFrame:
    """Per family and benchmark group: base accuracy, CPT and SLERP accuracy, their gains over base
    (percentage points, paired bootstrap CI over questions) and the relative gain in percent; the
    'average' row is the mean relative gain over the medical groups (general questions left out), its
    95 % interval from resampling the questions of each group (paired, stratified by group)."""
    from definemed.evaluation.models import variants

    from definemed.numerics import bootstrap_indices, percentile_ci

    e = cfg.evaluate
    rows = []
    fams = [v.family for v in variants(cfg) if v.kind == "base"]
    combos = ll[["group", "format"]].drop_duplicates().sort_values(["group", "format"]).itertuples(index=False)
    combos = list(combos)
    for fam in fams:
        rel = {"cpt": [], "slerp": []}
        rel_boot = {"cpt": [], "slerp": []}  # per benchmark: the relative gain on each resample of its questions
        for group, fmt in combos:
            base = _per_question(ll, fam, group, fmt, num_fewshot)
            if base.empty:
                continue
            medical = group != "general"  # general questions: a row of their own, not in the medical average
            row = {"family": fam, "benchmark": group, "format": fmt, "n": len(base), "base": base.mean()}
            for kind in ("cpt", "slerp"):
                other = _per_question(ll, f"{fam}-{kind}", group, fmt, num_fewshot).reindex(base.index)
                d = winrate.paired_diff(other.to_numpy(), base.to_numpy(), e.n_bootstrap, cfg.seed,
                                        f"gain-{fam}-{kind}-{group}-{fmt}", e.ci_level)
                row[kind] = other.mean()
                row[f"{kind}_gain_pts"] = 100 * d["diff"]
                row[f"{kind}_gain_lo"], row[f"{kind}_gain_hi"] = 100 * d["diff_lo"], 100 * d["diff_hi"]
                row[f"{kind}_beyond_ci"] = bool(d["diff_lo"] > 0 or d["diff_hi"] < 0)
                r = 100 * (other.mean() / base.mean() - 1) if base.mean() else float("nan")
                row[f"{kind}_rel_pct"] = r
                if medical:
                    rel[kind].append(r)
                    ok = base.notna().to_numpy() & other.notna().to_numpy()
                    b_, o_ = base.to_numpy(float)[ok], other.to_numpy(float)[ok]
                    idx = bootstrap_indices(len(b_), e.n_bootstrap, cfg.seed, "relgain", fam, kind, group, fmt)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        rel_boot[kind].append(100 * (o_[idx].mean(1) / b_[idx].mean(1) - 1))
            row["paper"] = "—"
            rows.append(row)
        avg = {}
        for kind in ("cpt", "slerp"):
            avg[f"{kind}_rel_pct"] = float(np.mean(rel[kind])) if rel[kind] else float("nan")
            lo, hi = (percentile_ci(np.mean(rel_boot[kind], axis=0), e.ci_level) if rel_boot[kind]
                      else (float("nan"), float("nan")))
            avg[f"{kind}_rel_pct_lo"], avg[f"{kind}_rel_pct_hi"] = lo, hi
        rows.append({"family": fam, "benchmark": "average", "format": "medical", **avg,
                     "paper": paper_text("evaluate.mistral_cpt_gain_pct") + " % (Mistral-7B CPT)"
                     if fam.startswith("mistral") else "—"})
    return pd.DataFrame(rows)


COMPARE_SUBJECTS = {"anatomy": "anatomy", "anatomie": "anatomy", "clinical_knowledge": "clinical_knowledge"}
"""The MMLU subjects on which the paper calls DeFineMed-Qwen2.5-7B-SLERP comparable to the 24B model
(our subject name -> the paper's); the tiny fact bank's German subdomain "anatomie" stands for anatomy."""


def subject_vs_reference(cfg: Config, ll: pd.DataFrame, num_fewshot: int = 0) -> pd.DataFrame:
    """Per SLERP variant, compared subject (COMPARE_SUBJECTS) and format: its accuracy and the reference
    model's on the same questions, and the difference SLERP - reference with a paired bootstrap 95 %
    interval over the questions."""
    from definemed.evaluation.models import reference, variants

    e = cfg.evaluate
    vs = variants(cfg)
    ref = reference(vs).label
    x = ll[(ll.group == "mmlu") & (ll.num_fewshot == num_fewshot) & ll.subject.isin(list(COMPARE_SUBJECTS))]
    rows = []
    for v in (v for v in vs if v.kind == "slerp"):
        for (subject, fmt), d in x.groupby(["subject", "format"]):
            a = d[d.variant == v.label].set_index(["task", "id"])["acc"].sort_index()
            b = d[d.variant == ref].set_index(["task", "id"])["acc"].reindex(a.index)
            if a.empty or b.isna().any():
                continue
            r = winrate.paired_diff(a.to_numpy(float), b.to_numpy(float), e.n_bootstrap, cfg.seed,
                                    f"vsref-{v.label}-{subject}-{fmt}", e.ci_level)
            rows.append({"variant": v.label, "family": v.family, "subject": subject, "paper_subject": COMPARE_SUBJECTS[subject],
                         "format": fmt, "n": len(a), "acc": float(a.mean()), "reference_acc": float(b.mean()), **r})
    return pd.DataFrame(rows, columns=["variant", "family", "subject", "paper_subject", "format", "n", "acc",
                                       "reference_acc", "diff", "diff_lo", "diff_hi"])


def tie_reason_table(po: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Why pairs tied: one row per reason (the rubric's, `judge.TIE_REASONS`, then any other reason seen,
    e.g. "orders disagree" under an LLM judge), one column per candidate model with the number of its
    tied pairs for that reason; the last row is all ties."""
    from definemed.evaluation.judge import TIE_REASONS

    if "reason" not in po.columns:
        return pd.DataFrame()
    ties = po[po.outcome == "tie"]
    cols = [v for v in order if v in set(po.variant)]
    seen = [r for r in dict.fromkeys(ties.reason) if r not in TIE_REASONS]
    reasons = list(TIE_REASONS) + sorted(seen)
    c = ties.groupby(["reason", "variant"]).size().unstack(fill_value=0).reindex(index=reasons, columns=cols,
                                                                                   fill_value=0)
    c.loc["all ties"] = ties.groupby("variant").size().reindex(cols, fill_value=0)
    return c.astype(int).reset_index().rename(columns={"index": "tie reason", "reason": "tie reason"})


def reason_slug(reason: str) -> str:
    """A results-file key part for a reason ("one wrong, one misses the relation" -> "one_wrong_one_misses_the_relation")."""
    return "_".join(reason.replace(",", " ").replace("-", "_").split())


def _paper_winrate_key(variant: str, kind: str) -> str | None:
    if variant.startswith("qwen") and kind == "base":
        return "evaluate.qwen_winrate_base"
    if variant.startswith("qwen") and kind == "slerp":
        return "evaluate.qwen_winrate_adapted"
    return None


def winrate_table(wrt: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    w = wrt.set_index("variant").loc[[v for v in order if v in set(wrt.variant)]].reset_index()
    out = pd.DataFrame({
        "model": w.variant, "kind": w.kind, "W": w.win, "T": w.tie, "L": w.loss, "invalid": w.invalid, "N": w.n,
        "W/N": w.win_rate, "W/N 95% CI": [f"[{a:.3f}, {b:.3f}]" for a, b in zip(w.win_rate_lo, w.win_rate_hi)],
        "(W+T/2)/N": w.score, "(W+T/2)/N 95% CI": [f"[{a:.3f}, {b:.3f}]" for a, b in zip(w.score_lo, w.score_hi)],
    })
    out["paper W/N"] = [paper_text(k) if (k := _paper_winrate_key(v, kd)) else "—" for v, kd in zip(w.variant, w.kind)]
    return out


def ratio_table(ratios: pd.DataFrame) -> pd.DataFrame:
    r = ratios.copy()
    out = pd.DataFrame({
        "family": r.family, "adapted": r.adapted, "metric": r.key.map({"win_rate": "W/N", "score": "(W+T/2)/N"}),
        "adapted / base": r.ratio, "ratio 95% CI": [f"[{a:.2f}, {b:.2f}]" for a, b in zip(r.ratio_lo, r.ratio_hi)],
        "adapted − base": r["diff"], "diff 95% CI": [f"[{a:+.3f}, {b:+.3f}]" for a, b in zip(r.diff_lo, r.diff_hi)],
        "resamples with base = 0": r.ratio_undefined_share,
    })
    out["paper"] = ["0.09 → 0.31 (" + paper_text("evaluate.qwen_winrate_ratio") + "x)"
                    if f.startswith("qwen") and a == "slerp" and k == "win_rate" else "—"
                    for f, a, k in zip(r.family, r.adapted, r.key)]
    return out


def plot_winrates(wrt: pd.DataFrame, order: list[str], reference: str):
    """W/N and (W + T/2)/N per model (its colour in every figure) with 95 % CIs; the paper's reported
    W/N (Qwen2.5-7B base 0.09, adapted 0.31) drawn as black stars on the matching bars."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from definemed.plotting import PAPER, model_color
    from definemed.reported import paper_value

    w = wrt.set_index("variant").loc[[v for v in order if v in set(wrt.variant)]].reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, (key, title) in zip(axes, [("win_rate", "W/N"), ("score", "(W + T/2)/N")]):
        x = np.arange(len(w))
        err = np.vstack([w[key] - w[f"{key}_lo"], w[f"{key}_hi"] - w[key]])
        ax.bar(x, w[key], yerr=err, color=[model_color(v) for v in w.variant], capsize=3)
        ax.set_xticks(x, w.variant, rotation=35, ha="right")
        ax.set_title(f"{title} against {reference}", fontsize=10)
        ax.set_ylim(0, 1)
    for i, (v, kd) in enumerate(zip(w.variant, w.kind)):
        if (k := _paper_winrate_key(v, kd)) is not None:
            axes[0].plot(i, paper_value(k)["value"], "*", color=PAPER, ms=13, zorder=4)
    axes[0].set_ylabel("rate (95 % bootstrap CI)")
    axes[0].legend(handles=[Line2D([], [], marker="*", ls="", color=PAPER, ms=11,
                                   label="paper (Qwen2.5-7B: base 0.09, adapted 0.31)")], loc="upper right")
    fig.tight_layout()
    return fig


def plot_accuracy(acc: pd.DataFrame, order: list[str], num_fewshot: int = 0):
    import matplotlib.pyplot as plt
    import seaborn as sns

    a = acc[acc.num_fewshot == num_fewshot].copy()
    a["benchmark"] = a.group + " / " + a.format
    g = a.groupby(["benchmark", "variant"], as_index=False).agg(acc=("acc", "mean"))
    from definemed.plotting import model_colors

    fig, ax = plt.subplots(figsize=(10, 3.8))
    hue_order = [v for v in order if v in set(g.variant)]
    sns.barplot(data=g, x="benchmark", y="acc", hue="variant", hue_order=hue_order, palette=model_colors(hue_order), ax=ax)
    n_opt = 4
    ax.axhline(1 / n_opt, color="k", ls=":", lw=1, label="chance (4 options)")
    ax.set_ylabel(f"accuracy ({num_fewshot}-shot, mean over subjects)")
    ax.set_ylim(0, 1)
    ax.legend(ncol=4, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def cpt_statement(gains: pd.DataFrame, ratios: pd.DataFrame) -> list[str]:
    """Sentences, computed from the tables, on whether CPT raised fact accuracy and win-rates beyond the CIs."""
    lines = []
    g = gains[gains.benchmark != "average"]
    for r in g.itertuples():
        for kind in ("cpt", "slerp"):
            gain, lo, hi = getattr(r, f"{kind}_gain_pts"), getattr(r, f"{kind}_gain_lo"), getattr(r, f"{kind}_gain_hi")
            verdict = ("raised it beyond the 95 % CI" if lo > 0 else "lowered it beyond the 95 % CI" if hi < 0
                       else "did not change it beyond the 95 % CI")
            lines.append(f"{r.family} {kind.upper()} on {r.benchmark} ({r.format}): {r.base:.3f} -> "
                         f"{getattr(r, kind):.3f}, {gain:+.1f} points [{lo:+.1f}, {hi:+.1f}]: {verdict}.")
    for r in ratios[ratios.key == "win_rate"].itertuples():
        verdict = ("raised W/N beyond the 95 % CI" if r.diff_lo > 0 else "lowered W/N beyond the 95 % CI"
                   if r.diff_hi < 0 else "did not change W/N beyond the 95 % CI")
        ratio = f"ratio {r.ratio:.2f} [{r.ratio_lo:.2f}, {r.ratio_hi:.2f}]" if np.isfinite(r.ratio) else "ratio undefined (base W = 0)"
        lines.append(f"{r.family} {r.adapted.upper()} vs base, win-rate against the reference: "
                     f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}], {ratio}: {verdict}.")
    return lines


def _ci(x, lo, hi, fmt=".2f") -> str:
    return "—" if pd.isna(x) else f"{x:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def model_table(data: dict[str, pd.DataFrame], order: list[str]) -> pd.DataFrame:
    """One row per model variant: general competence, answer quality (docs/evaluation.md, "Answer
    quality") and the distance in weight space from the family's base (mean cosine per tensor group)."""
    q = data["quality"].set_index("variant")
    g = data["general"].set_index("variant")
    w = data["weights"].pivot_table(index="variant", columns="group", values="cosine", aggfunc="first")
    rows = []
    for v in [x for x in order if x in q.index]:
        r, gr = q.loc[v], g.loc[v]
        row = {"model": v, "kind": r.kind,
               "general acc [95% CI]": _ci(gr.acc, gr.acc_lo, gr.acc_hi),
               "general ppl": gr.ppl_general, "ppl / base": gr.ppl_general_ratio,
               "distinct/N": r.distinct_share, "mean words": r.mean_words,
               "German sentences": r.german_sentence_share, "end of turn": r.end_of_turn_rate,
               "in format [95% CI]": _ci(r.in_format_rate, r.in_format_rate_lo, r.in_format_rate_hi),
               "copy rate": r.copy_rate, "gold share [95% CI]": _ci(r.gold_share, r.gold_share_lo, r.gold_share_hi),
               "top object share": r.top_object_share}
        for grp in ("embeddings", "attention", "mlp", "norms"):
            row[f"cos {grp}"] = w.loc[v, grp] if v in w.index and grp in w.columns else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def format_change_table(fc: pd.DataFrame) -> pd.DataFrame:
    """Paired changes of the in-format share within each family, with their 95 % intervals."""
    return pd.DataFrame({"family": fc.family, "change": fc.change.str.replace("_vs_", " vs "),
                         "in-format difference": fc["diff"],
                         "95% CI": [f"[{a:+.3f}, {b:+.3f}]" for a, b in zip(fc.diff_lo, fc.diff_hi)]})


QUALITY_KEYS = ("n", "n_empty", "distinct_share", "mean_words", "german_sentence_share", "end_of_turn_rate",
                "in_format_rate", "in_format_rate_lo", "in_format_rate_hi", "copy_rate", "gold_share",
                "gold_share_lo", "gold_share_hi", "top_object_share")


def results(cfg) -> dict:
    """Headline numbers of stage 06 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed.report.results import number

    v: dict = {}
    data = load(cfg)
    gains = family_gains(cfg, data["loglik"], 0)
    for r in gains.itertuples():
        if r.benchmark == "average":
            for kind in ("cpt", "slerp"):
                for q in ("", "_lo", "_hi"):
                    v[f"evaluate.{r.family}.{kind}_rel_pct_avg{q}"] = number(getattr(r, f"{kind}_rel_pct{q}"))
            continue
        k = f"evaluate.{r.family}.{r.benchmark}.{r.format}"
        v[f"{k}.base"], v[f"{k}.n"] = number(r.base), number(r.n)
        for kind in ("cpt", "slerp"):
            v[f"{k}.{kind}"] = number(getattr(r, kind))
            for q in ("gain_pts", "gain_lo", "gain_hi"):
                v[f"{k}.{kind}_{q}"] = number(getattr(r, f"{kind}_{q}"))
    for r in data["winrates"].itertuples():
        k = f"evaluate.winrate.{r.variant}"
        v[f"{k}.win"], v[f"{k}.tie"], v[f"{k}.loss"], v[f"{k}.n"] = int(r.win), int(r.tie), int(r.loss), int(r.n)
        v[f"{k}.w_n"], v[f"{k}.w_n_lo"], v[f"{k}.w_n_hi"] = number(r.win_rate), number(r.win_rate_lo), number(r.win_rate_hi)
    ll = data["loglik"]
    v["evaluate.mmlu_subjects"] = ", ".join(sorted(set(ll.loc[ll.group == "mmlu", "subject"])))
    for r in subject_vs_reference(cfg, ll, 0).itertuples():
        k = f"evaluate.vs_reference.{r.variant}.{r.paper_subject}.{r.format}"
        for q in ("n", "acc", "reference_acc", "diff", "diff_lo", "diff_hi"):
            v[f"{k}.{q}"] = number(getattr(r, q))
    po = data["pair_outcomes"]
    if "reason" in po.columns:
        for (variant, reason), n in po[po.outcome == "tie"].groupby(["variant", "reason"]).size().items():
            v[f"evaluate.ties.{variant}.{reason_slug(reason)}"] = int(n)
    for r in data["ratios"][data["ratios"].key == "win_rate"].itertuples():
        k = f"evaluate.winrate_change.{r.family}-{r.adapted}"
        v[f"{k}.diff"], v[f"{k}.diff_lo"], v[f"{k}.diff_hi"] = number(r.diff), number(r.diff_lo), number(r.diff_hi)
        v[f"{k}.ratio"] = number(r.ratio)
    ref = data["quality"][data["quality"].kind == "reference"].variant
    if len(ref):
        v["evaluate.reference"] = str(ref.iloc[0])
    for r in data["quality"].itertuples():
        for q in QUALITY_KEYS:
            v[f"evaluate.quality.{r.variant}.{q}"] = number(getattr(r, q))
    for r in data["format_changes"].itertuples():
        for q in ("diff", "diff_lo", "diff_hi"):
            v[f"evaluate.format_change.{r.family}.{r.change}.{q}"] = number(getattr(r, q))
    for r in data["general"].itertuples():
        k = f"evaluate.general.{r.variant}"
        v[f"{k}.acc"], v[f"{k}.acc_lo"], v[f"{k}.acc_hi"] = number(r.acc), number(r.acc_lo), number(r.acc_hi)
        v[f"{k}.n"], v[f"{k}.ppl"], v[f"{k}.ppl_ratio"] = number(r.n), number(r.ppl_general), number(r.ppl_general_ratio)
    for r in data["weights"].itertuples():
        v[f"evaluate.weights.{r.variant}.{r.group}"] = number(r.cosine)
    return v
