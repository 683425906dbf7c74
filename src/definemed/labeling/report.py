"""Figures of stage 01 (they read labels.parquet, the expert file and, tiny only, the truth files)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

DOMAIN_ORDER = ["medical", "borderline", "general"]


def topic_shares(labels: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Share of documents labelled medical (and invalid) per ground-truth topic (synthetic corpus only)."""
    m = labels.merge(truth[["id", "topic", "domain"]], on="id", how="inner")
    g = m.groupby(["domain", "topic"])["label"]
    out = pd.DataFrame({"n": g.size(), "labelled_medical": g.apply(lambda s: float((s == 1).mean())),
                        "invalid": g.apply(lambda s: float((s == -1).mean()))}).reset_index()
    out["domain"] = pd.Categorical(out["domain"], DOMAIN_ORDER, ordered=True)
    return out.sort_values(["domain", "labelled_medical"], ascending=[True, False]).reset_index(drop=True)


def plot_topic_shares(shares: pd.DataFrame, annotator: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(shares) + 1.5))
    sns.barplot(data=shares, y="topic", x="labelled_medical", hue="domain", hue_order=DOMAIN_ORDER,
                dodge=False, ax=ax)
    ax.set(xlim=(0, 1), xlabel="share labelled medical", ylabel="",
           title=f"Labels by topic ({annotator})")
    ax.axvline(0.5, color="grey", lw=0.8, ls=":")
    fig.tight_layout()
    return fig


def plot_probabilities(labels: pd.DataFrame, experts: pd.DataFrame | None, confusion: pd.DataFrame | None,
                       annotator: str) -> plt.Figure:
    """P(medical) of all labelled documents, of the expert documents by expert label, and the confusion matrix."""
    n = 2 + (confusion is not None)
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 4))
    bins = np.linspace(0, 1, 41)
    valid = labels[labels["prob"].notna()]
    lab = valid["label"].map({1: "medical", 0: "not medical", -1: "invalid"})
    sns.histplot(x=valid["prob"], hue=lab, bins=bins, ax=axes[0], multiple="stack", hue_order=["medical", "not medical", "invalid"])
    axes[0].set(xlabel="P(medical) from the annotator", ylabel="documents", yscale="log",
                title=f"All labelled documents (n={len(valid)})")
    if experts is not None:
        m = experts.merge(labels[["id", "prob"]], on="id")
        m = m[m["prob"].notna()]
        sns.histplot(x=m["prob"], hue=m["label"].map({1: "medical", 0: "not medical"}), bins=bins, ax=axes[1],
                     multiple="layer", hue_order=["medical", "not medical"])
        axes[1].set(xlabel="P(medical) from the annotator", ylabel="documents", yscale="log",
                    title=f"Expert documents by expert label (n={len(m)})")
    if confusion is not None:
        sns.heatmap(confusion, annot=True, fmt="d", cbar=False, cmap="Blues", ax=axes[2])
        axes[2].set(title="Confusion with the experts", xlabel="annotator", ylabel="expert")
    fig.suptitle(annotator, fontsize=10)
    fig.tight_layout()
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage 01 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed import artifacts, io

    v: dict = {}
    s = io.read_json(artifacts.label_summary(cfg))
    v["label.n_docs"] = s["n_docs"]
    v["label.stand_in"] = int(bool(s["stand_in"]))
    f = artifacts.label_agreement(cfg)
    if f.is_file():
        a = io.read_json(f)
        for q in ("f1", "precision", "recall", "kappa"):
            v[f"label.{q}"] = a["point"][q]
            v[f"label.{q}_lo"], v[f"label.{q}_hi"] = a["ci"][q]
        v["label.human_f1"] = a["human"]["f1"]
        v["label.n_expert"] = a["n"]
        first = next(iter(a["confusion"][0]))  # "expert \\ annotator": the expert's label of the row
        conf = {r[first]: r for r in a["confusion"]}
        v["label.false_positives"] = int(conf["not medical"]["medical"])
    return v
