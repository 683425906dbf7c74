"""Tables and figures of stage 03, read from filter_stats.json, scores/ and (tiny) the generator truth."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from definemed import tables


def comparison_table(stats: dict) -> pd.DataFrame:
    """FineMed-de against the full corpus, documents and words, beside the paper's 7.3M / 5.1B and 427.7M / 234.8B."""
    rows = [
        {"quantity": "FineMed-de documents", "ours": stats["n_kept"], "paper_key": "corpus.finemed_docs"},
        {"quantity": "FineMed-de words", "ours": stats["words_kept"], "paper_key": "corpus.finemed_words"},
        {"quantity": "full corpus documents", "ours": stats["n_docs"], "paper_key": "corpus.fineweb_docs"},
        {"quantity": "full corpus words", "ours": stats["words"], "paper_key": "corpus.fineweb_words"},
        {"quantity": "share of documents kept", "ours": stats["n_kept"] / max(stats["n_docs"], 1), "paper_key": "corpus.finemed_share"},
        {"quantity": "share of words kept", "ours": stats["words_kept"] / max(stats["words"], 1), "paper_key": None},
        {"quantity": "words per kept document", "ours": stats["words_kept"] / max(stats["n_kept"], 1), "paper_key": None},
    ]
    df = tables.comparison(rows)
    # shares as percent text, counts as integers (tabulate would reformat numeric-looking text)
    df["ours"] = [f"{v:.2%}" if q.startswith("share") else (int(v) if float(v).is_integer() else round(v, 1))
                  for q, v in zip(df["quantity"], df["ours"])]
    df["paper"] = [f"{float(p):.2%}" if p == "0.0171" else p for p in df["paper"]]
    # the paper's words per kept document, derived from its two reported numbers
    df.loc[df["quantity"] == "words per kept document", "paper"] = f"{5.1e9 / 7.3e6:,.1f} (5.1B / 7.3M)"
    df.loc[df["quantity"] == "share of words kept", "paper"] = f"{5.1e9 / 234.8e9:.2%} (5.1B / 234.8B)"
    return df


def join_truth(scores: pd.DataFrame, truth: pd.DataFrame, threshold: float) -> pd.DataFrame:
    d = scores.merge(truth[["id", "topic", "domain", "is_medical", "n_words"]], on="id", how="left")
    d["kept"] = d["score"] >= np.float32(threshold)
    return d


def truth_evaluation(m: dict) -> pd.DataFrame:
    """The filter's real precision and recall against the generator's truth (tiny only), with the
    bootstrap CIs stage 03 computed (03_filter/truth_evaluation.json)."""
    beta = m.get("beta")
    rows = []
    for q, key in (("precision", "classifier.precision"), ("recall", "classifier.recall"), ("fbeta", None)):
        name = q if q != "fbeta" else (f"F{beta:g}" if beta else "F-beta")
        rows.append({"quantity": f"filter {name} vs generator truth (all {m['n']:,} docs)",
                     "ours": m[q], "95% CI": f"[{m[q + '_lo']:.3f}, {m[q + '_hi']:.3f}]", "paper_key": key})
    return tables.comparison(rows)


def composition(d: pd.DataFrame, by: str = "topic") -> pd.DataFrame:
    """Per topic (or domain): documents before, kept, the share kept, and the share of FineMed-de."""
    agg = {"docs": ("id", "size"), "kept": ("kept", "sum")}
    if by != "domain":
        agg["domain"] = ("domain", "first")
    g = d.groupby(by).agg(**agg)
    g["share_kept"] = g["kept"] / g["docs"]
    g["share_of_corpus"] = g["docs"] / g["docs"].sum()
    g["share_of_finemed"] = g["kept"] / max(g["kept"].sum(), 1)
    g = g.reset_index()
    return g.sort_values(["domain", by] if by != "domain" else [by]).reset_index(drop=True)


def plot_scores_and_composition(scores: pd.DataFrame, threshold: float, d: pd.DataFrame | None = None):
    import matplotlib.pyplot as plt

    ncols = 3 if d is not None else 1
    fig, ax = plt.subplots(1, ncols, figsize=(6.2 * ncols, 5.2), squeeze=False, layout="constrained")
    ax = ax[0]
    bins = np.linspace(0, 1, 51)
    colors = {"general": "C0", "borderline": "C1", "medical": "C2"}
    if d is not None:
        for dom in ("general", "borderline", "medical"):
            s = d.loc[d["domain"] == dom, "score"]
            ax[0].hist(s, bins=bins, histtype="step", lw=1.5, color=colors[dom], label=f"{dom} (truth, n={len(s):,})")
    else:
        ax[0].hist(scores["score"], bins=bins, histtype="stepfilled", alpha=0.7, label=f"all documents (n={len(scores):,})")
    ax[0].axvline(threshold, color="k", lw=0.8, label=f"threshold {threshold:g}")
    ax[0].set(yscale="log", xlabel="P(medical)", ylabel="documents", title="score distribution of the corpus")
    ax[0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)  # below, off the bars
    if d is not None:
        comp = composition(d, "domain").set_index("domain")
        before, after = comp["share_of_corpus"], comp["share_of_finemed"]
        left = np.zeros(2)
        for dom in comp.index:
            vals = np.array([before[dom], after[dom]])
            ax[1].barh(["full corpus", "FineMed-de"], vals, left=left, label=dom, color=colors.get(dom, "C7"))
            left += vals
        ax[1].set(xlabel="share of documents", title="domain composition before / after", xlim=(0, 1))
        ax[1].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
        comp_t = composition(d, "topic").sort_values("share_kept")
        ax[2].barh(comp_t["topic"], comp_t["share_kept"], color=[colors.get(x, "C7") for x in comp_t["domain"]])
        ax[2].set(xlabel="share of the topic's documents kept", title="kept per topic (colour: truth domain)", xlim=(0, 1))
        ax[2].tick_params(axis="y", labelsize=7)
    return fig


def load_truth_if_synthetic(corpus_dir: Path) -> pd.DataFrame | None:
    if not (Path(corpus_dir) / "truth").is_dir():
        return None
    from definemed.corpus.stats import load_truth

    return load_truth(corpus_dir)


def results(cfg) -> dict:
    """Headline numbers of stage 03 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed import artifacts, io

    v: dict = {}
    s = io.read_json(artifacts.filter_stats(cfg))
    v["filter.n_docs"], v["filter.n_kept"] = s["n_docs"], s["n_kept"]
    v["filter.kept_share"] = s["n_kept"] / max(s["n_docs"], 1)
    f = artifacts.filter_truth_evaluation(cfg)
    if f.is_file():
        t = io.read_json(f)
        for q in ("precision", "recall"):
            v[f"filter.{q}"], v[f"filter.{q}_lo"], v[f"filter.{q}_hi"] = t[q], t[f"{q}_lo"], t[f"{q}_hi"]
        from definemed.corpus.stats import load_truth
        from definemed.filtering.filter import read_scores

        scores = read_scores(artifacts.stage_dir(cfg, artifacts.FILTER)).to_pandas()
        joined = join_truth(scores, load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS)),
                                   cfg.classifier.threshold)
        comp = composition(joined, "domain").set_index("domain")
        for dom in comp.index:
            v[f"filter.{dom}.docs"], v[f"filter.{dom}.kept"] = int(comp.loc[dom, "docs"]), int(comp.loc[dom, "kept"])
            v[f"filter.{dom}.share_of_finemed"] = float(comp.loc[dom, "share_of_finemed"])
        top = composition(joined, "topic")
        leak = top[top.domain != "medical"].sort_values("kept", ascending=False).iloc[0]
        v["filter.top_leak.topic"] = str(leak.topic)
        v["filter.top_leak.docs"], v["filter.top_leak.kept"] = int(leak.docs), int(leak.kept)
        v["filter.top_leak.share_of_finemed"] = float(leak.share_of_finemed)
    return v


def plot_score_histogram(hist: pd.DataFrame, threshold: float):
    """The score distribution from per-file aggregated counts (`filter.score_histogram`; real data)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 5.2), layout="constrained")
    ax.stairs(hist["docs"], np.r_[hist["lo"].to_numpy(), hist["hi"].iloc[-1]], fill=True, alpha=0.7,
              label=f"all documents (n={int(hist['docs'].sum()):,})")
    ax.axvline(threshold, color="k", lw=0.8, label=f"threshold {threshold:g}")
    ax.set(yscale="log", xlabel="P(medical)", ylabel="documents", title="score distribution of the corpus")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig
