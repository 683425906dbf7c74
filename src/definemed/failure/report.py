"""Tables and figures of stage 07, from detections.parquet and detector_quality.json (never recomputed)."""
from __future__ import annotations

import json

import pandas as pd

from definemed.reported import paper_direction  # noqa: F401 (the paper's directions live with its numbers)
from definemed import artifacts, io
from definemed.config import Config
from definemed.failure.analysis import MODES, variant_of


def load_detections(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(artifacts.failure_dir(cfg) / "detections.parquet")


def load_quality(cfg: Config) -> dict:
    return io.read_json(artifacts.failure_dir(cfg) / "detector_quality.json")


def paper_key(mode: str, family: str, variant: str) -> str | None:
    """The data/paper_reported.yaml key of the paper's count for this cell, if the paper has one."""
    fam = "mistral" if family.startswith("mistral-7b") else "qwen" if family.startswith("qwen2.5-7b") else None
    if fam is None or variant not in ("base", "slerp"):
        return None
    if mode == "language_mixing" and fam == "mistral":
        return f"failure.language_mixing_mistral_{variant}"
    if mode == "typos":
        return f"failure.typos_{fam}_{'base' if variant == 'base' else 'adapted'}"
    if mode in ("verbosity", "hallucination", "overconfidence", "contradiction"):
        return f"failure.{mode}"
    return None


def _order(models: list[str], cfg: Config) -> list[str]:
    rank = {"base": 0, "cpt": 1, "slerp": 2, "reference": 3}
    return sorted(models, key=lambda m: (variant_of(m, cfg)[0], rank.get(variant_of(m, cfg)[1], 9)))


def counts_table(det: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per model and failure mode: answers flagged / answers, not judged (timeout, error), empty, not a
    sentence (typos and language mixing are judged on sentences only), the answers a mode was judged
    on, and the paper's count for the same cell beside ours."""
    from definemed.reported import paper_text

    rows = []
    for model in _order(list(det["model"].unique()), cfg):
        d = det[det["model"] == model]
        fam, var = variant_of(model, cfg)
        for mode in MODES:
            st = d[f"{mode}_status"]
            key = paper_key(mode, fam, var)
            rows.append({"model": model, "family": fam, "variant": var, "failure": mode,
                         "ours": int(d[f"{mode}_flag"].sum()), "n": len(d),
                         "not_judged": int(st.isin(["timeout", "error"]).sum()), "empty": int((st == "empty").sum()),
                         "not_sentence": int((st == "not_sentence").sum()),
                         "judged_on": int(st.isin(["ok", "empty"]).sum()),
                         "paper": paper_text(key) if key else "—"})
    return pd.DataFrame(rows)


def direction_table(counts: pd.DataFrame) -> pd.DataFrame:
    """Per family and mode: base and SLERP counts, the change, and whether its direction matches the
    paper's. At tiny scale only directions are comparable, not sizes."""
    rows = []
    for fam in dict.fromkeys(counts.loc[counts["variant"] == "base", "family"]):
        for mode in MODES:
            c = counts[(counts["family"] == fam) & (counts["failure"] == mode)].set_index("variant")["ours"]
            if "base" not in c or "slerp" not in c:
                continue
            diff = int(c["slerp"] - c["base"])
            ours = "up" if diff > 0 else "down" if diff < 0 else "same"
            want = paper_direction(mode, fam)
            rows.append({"family": fam, "failure": mode, "base": int(c["base"]), "cpt": int(c.get("cpt", -1)),
                         "slerp": int(c["slerp"]), "change": diff, "ours": ours, "paper": want or "—",
                         "agrees": "—" if want is None else ("yes" if ours == want else "no")})
    return pd.DataFrame(rows)


def wide_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Models as rows, failure modes as columns: 'flagged/n', with the paper's count where it has one."""
    paper = counts["paper"].map(lambda p: f" (paper {p})" if str(p).replace(".", "").isdigit() else "")
    c = counts.assign(cell=counts["ours"].astype(str) + "/" + counts["n"].astype(str) + paper)
    w = c.pivot(index="model", columns="failure", values="cell")
    return w.loc[list(dict.fromkeys(counts["model"])), list(MODES)].reset_index()


def verbosity_table(det: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Mean length and density per model (the paper: verbosity up after specialisation)."""
    g = det.groupby("model")
    t = pd.DataFrame({
        "words": g["n_words"].mean(), "sentences": g["n_sentences"].mean(), "characters": g["n_chars"].mean(),
        "length_ratio": g["length_ratio"].mean(), "density": g["density"].mean(),
        "ref_coverage": g["ref_coverage"].mean(), "typos_per_answer": g["n_typos"].mean(),
        "typos_per_1000_words": g["typos_per_1000"].mean(),
    })
    t = t.loc[_order(list(t.index), cfg)].reset_index()
    t.insert(1, "variant", [variant_of(m, cfg)[1] for m in t["model"]])
    return t


def verbosity_ratio_table(det: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per model: words per answer / the reference model's words on the same question, mean with a
    bootstrap 95 % interval; empty answers and unusable reference answers left out and counted."""
    from definemed.failure.verbosity import ratio_summary

    e = cfg.evaluate
    t = ratio_summary(det, e.n_bootstrap, cfg.seed, e.ci_level).set_index("model")
    t = t.loc[_order(list(t.index), cfg)].reset_index()
    t.insert(1, "variant", [variant_of(m, cfg)[1] for m in t["model"]])
    return t


def verbosity_change_table(det: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per family: the paired change of the length ratio from base to CPT and to SLERP (paper: up)."""
    from definemed.failure.verbosity import paired_change

    e = cfg.evaluate
    rows = []
    models = set(det["model"])
    for fam in dict.fromkeys(variant_of(m, cfg)[0] for m in _order(list(models), cfg) if variant_of(m, cfg)[1] == "base"):
        for kind in ("cpt", "slerp"):
            if f"{fam}-{kind}" in models:
                rows.append({"family": fam, "adapted": f"{fam}-{kind}",
                             **paired_change(det, fam, f"{fam}-{kind}", e.n_bootstrap, cfg.seed, e.ci_level)})
    return pd.DataFrame(rows, columns=["family", "adapted", "diff", "diff_lo", "diff_hi", "n"])


FLAG_MODES = ("language_mixing", "typos", "hallucination", "overconfidence", "contradiction")
"""Modes counted as flagged answers (verbosity has its own paired length-ratio change)."""
NAME_MATCH = 0.75
"""A flagged typo is a mis-copied invented name when difflib's similarity to a fact-bank name is at
least this (e.g. "Velorixam" for "Velorixan": 0.89; two unrelated 8-letter words stay below 0.5)."""


def flag_change_table(det: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Per family, adapted model (CPT, SLERP) and failure mode: flagged answers of base and adapted model
    out of the questions both answered (the same sampled questions), and the change of the flagged
    share adapted - base with a paired bootstrap 95 % interval over those questions. An answer that is
    not judged for a mode (not a sentence for typos and language mixing, empty, error) counts as not
    flagged, as in the counts table."""
    from definemed.evaluation.winrate import paired_diff

    e = cfg.evaluate
    rows = []
    models = set(det["model"])
    for fam in dict.fromkeys(variant_of(m, cfg)[0] for m in _order(list(models), cfg) if variant_of(m, cfg)[1] == "base"):
        for kind in ("cpt", "slerp"):
            other = f"{fam}-{kind}"
            if other not in models:
                continue
            b = det[det["model"] == fam].set_index("question_id")
            a = det[det["model"] == other].set_index("question_id")
            common = sorted(set(a.index) & set(b.index))
            for mode in FLAG_MODES:
                fa, fb = a.loc[common, f"{mode}_flag"].to_numpy(float), b.loc[common, f"{mode}_flag"].to_numpy(float)
                d = paired_diff(fa, fb, e.n_bootstrap, cfg.seed, f"flags-{other}-{mode}", e.ci_level)
                rows.append({"family": fam, "adapted": other, "failure": mode, "n": len(common),
                             "base": int(fb.sum()), "other": int(fa.sum()), **d})
    return pd.DataFrame(rows, columns=["family", "adapted", "failure", "n", "base", "other", "diff", "diff_lo", "diff_hi"])


def typo_words(det: pd.DataFrame, model: str) -> list[str]:
    """The words the typo detector flagged in one model's answers (from the evidence "word — in: ...")."""
    out = []
    for ev in det.loc[det["model"] == model, "typos_evidence"]:
        out += [x.split(" — in: ")[0] for x in json.loads(ev or "[]")]
    return out


def invented_names(cfg: Config) -> list[str]:
    """The fact bank's invented names (drugs, and diseases without their "Morbus"): the tiny world's
    entities no dictionary knows."""
    from definemed.corpus import fact_bank

    return sorted({f.subject.split(" ")[-1] for f in fact_bank(cfg).facts})


def opportunity_table(det: pd.DataFrame, cfg: Config, names: list[str] | None) -> pd.DataFrame:
    """Per model, what could show a failure mode at all: answers of two or more sentences (a one-sentence
    answer cannot contradict itself), answers with a hedging marker (without any, overconfidence is
    hallucination under another name), flagged typo words and how many of them are mis-copied invented
    names (`names`: the fact bank's names; None where there is no fact bank)."""
    import difflib

    from definemed.failure.text import HEDGES, find_markers

    rows = []
    for model in _order(list(det["model"].unique()), cfg):
        d = det[det["model"] == model]
        words = typo_words(det, model)
        near = (sum(bool(difflib.get_close_matches(w, names, n=1, cutoff=NAME_MATCH)) for w in words)
                if names is not None else None)
        rows.append({"model": model, "n": len(d), "multi_sentence": int((d["n_sentences"] >= 2).sum()),
                     "hedged": int(sum(bool(find_markers(a, HEDGES)) for a in d["answer"])),
                     "typo_words": len(words), "typo_words_names": near})
    return pd.DataFrame(rows)


def examples(det: pd.DataFrame, mode: str, k: int = 2, seed: int = 0) -> pd.DataFrame:
    """Up to k flagged answers per mode, each with its evidence (for the notebook)."""
    d = det[det[f"{mode}_flag"]]
    if d.empty:
        return pd.DataFrame(columns=["model", "question", "answer", "evidence"])
    d = d.sample(n=min(k, len(d)), random_state=seed)
    return pd.DataFrame({"model": d["model"], "question": d["question"],
                         "answer": d["answer"].str.slice(0, 300),
                         "evidence": d[f"{mode}_evidence"].map(lambda s: "; ".join(json.loads(s))[:300])})


def plot_counts(counts: pd.DataFrame):
    """Bars: answers flagged per failure mode and model; the paper's numeric counts as black marks."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(11, 4.2))
    order = list(dict.fromkeys(counts["model"]))
    from definemed.plotting import PAPER, model_colors

    sns.barplot(data=counts, x="failure", y="ours", hue="model", hue_order=order, palette=model_colors(order), ax=ax)
    n = int(counts["n"].max())
    width = 0.8 / len(order)
    modes = list(dict.fromkeys(counts["failure"]))
    labelled = False
    for _, r in counts.iterrows():
        try:
            paper = float(str(r["paper"]).replace(",", ""))
        except ValueError:
            continue
        x = modes.index(r["failure"]) - 0.4 + width * (order.index(r["model"]) + 0.5)
        ax.plot([x - width / 2, x + width / 2], [paper, paper], color=PAPER, lw=2.5,
                label=None if labelled else "paper (of 216)")
        labelled = True
    ax.set(xlabel="", ylabel=f"answers flagged (of {n})", title="Failure modes per model")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage 07 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed.report.results import number

    v: dict = {}
    det = load_detections(cfg)
    counts = counts_table(det, cfg)
    for r in counts.itertuples():
        v[f"failure.{r.model}.{r.failure}"] = int(r.ours)
        v[f"failure.{r.model}.n"] = int(r.n)
    if "is_sentence" in det.columns:
        for model, n in det.groupby("model")["is_sentence"].sum().items():
            v[f"failure.{model}.sentences"] = int(n)
    for r in verbosity_ratio_table(det, cfg).itertuples():
        k = f"failure.{r.model}"
        v[f"{k}.length_ratio"], v[f"{k}.length_ratio_lo"] = number(r.length_ratio), number(r.length_ratio_lo)
        v[f"{k}.length_ratio_hi"], v[f"{k}.length_ratio_n"] = number(r.length_ratio_hi), int(r.n_used)
        v[f"{k}.empty"] = int(r.n_empty)
    for r in verbosity_change_table(det, cfg).itertuples():
        k = f"failure.verbosity_change.{r.adapted}"
        v[f"{k}.diff"], v[f"{k}.diff_lo"], v[f"{k}.diff_hi"] = number(r.diff), number(r.diff_lo), number(r.diff_hi)
        v[f"{k}.n"] = int(r.n)
    for r in flag_change_table(det, cfg).itertuples():
        k = f"failure.change.{r.adapted}.{r.failure}"
        v[f"{k}.diff"], v[f"{k}.diff_lo"], v[f"{k}.diff_hi"] = number(r.diff), number(r.diff_lo), number(r.diff_hi)
        v[f"{k}.n"] = int(r.n)
    names = invented_names(cfg) if cfg.failure.judge == "factbank" else None
    for r in opportunity_table(det, cfg, names).itertuples():
        for q in ("multi_sentence", "hedged", "typo_words", "typo_words_names"):
            v[f"failure.{r.model}.{q}"] = number(getattr(r, q))
    q = load_quality(cfg)
    for key in ("mixing", "typos", "heldout_mixing", "heldout_typos"):
        for k in ("precision", "recall"):
            v[f"failure.detector.{key}.{k}"] = number(q[key][k])
    for name, r in (q.get("realtext") or {}).items():
        if not isinstance(r, dict):
            continue
        k = f"failure.realtext.{name}"
        v[f"{k}.typo_per_1000"] = number(r["typo_per_1000"])
        v[f"{k}.typo_precision"] = number(r["typo_sample"]["precision"])
        v[f"{k}.typo_checked"] = int(r["typo_sample"]["checked"])
        v[f"{k}.typo_recall_genuine"] = number(r["typo_recall_genuine"])
        v[f"{k}.mixing_flagged"] = len(r["mixing_flagged_docs"])
        v[f"{k}.mixing_false"] = len(r["mixing_false_docs"])
        v[f"{k}.mixing_precision"] = number(r["mixing"]["precision"])
        v[f"{k}.n_docs"] = int(r["n_docs"])
        if "split_error_rate" in r:
            v[f"{k}.split_error_rate"] = number(r["split_error_rate"])
            v[f"{k}.split_checked"] = int(r["split_sample"]["checked"])
        if "planted_recall" in r:
            v[f"{k}.planted_recall"] = number(r["planted_recall"])
    return v
