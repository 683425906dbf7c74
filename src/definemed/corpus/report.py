"""Tables and figures of stage 00 (they read stats.json and the truth files; nothing is recomputed)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from definemed import tables
from definemed.corpus import vocab


def stats_table(stats: dict) -> pd.DataFrame:
    rows = [
        {"quantity": "documents", "ours": stats["n_docs"], "paper_key": "corpus.fineweb_docs"},
        {"quantity": "words", "ours": stats.get("n_words_total"), "paper_key": "corpus.fineweb_words"},
    ]
    if "medical_share" in stats:
        rows += [
            # no paper value: the paper's 1.71 % is the share its filter kept (stage 03), not a true share
            {"quantity": "medical share (ground truth)", "ours": stats["medical_share"]},
            {"quantity": "median length (pre-tokens)", "ours": stats["pretokens_quantiles"]["p50"]},
            {"quantity": "p99 length (pre-tokens)", "ours": stats["pretokens_quantiles"]["p99"]},
            {"quantity": "documents > 4,096 pre-tokens", "ours": stats["docs_over_4096_pretokens"]},
            {"quantity": "documents with English sentences", "ours": stats["english_doc_share"]},
            {"quantity": "documents with typos", "ours": stats["typo_doc_share"]},
            {"quantity": "typos per eligible word (noisy docs)", "ours": stats["typo_rate_per_eligible_word"]},
            {"quantity": "facts covered", "ours": f"{stats['facts_covered']} / {stats['n_facts']}"},
            {"quantity": "fact mentions: min / median", "ours": f"{stats['fact_exposures_min']} / {stats['fact_exposures_median']:g}"},
        ]
    return tables.comparison(rows)


def plot_corpus(truth: pd.DataFrame) -> plt.Figure:
    """Document lengths by topic (log scale, coloured by domain) and the share of each domain."""
    order = vocab.MEDICAL + vocab.BORDERLINE + vocab.GENERAL
    order = [t for t in order if t in set(truth["topic"])]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [4, 1]},
                                   layout="constrained")  # keeps the outside legend in the figure
    sns.boxplot(data=truth, y="topic", x="n_pretokens", hue="domain", order=order, log_scale=True,
                fliersize=1.5, ax=ax1, hue_order=["medical", "borderline", "general"], dodge=False)
    ax1.axvline(4096, color="grey", ls="--", lw=1, label="4,096")
    ax1.set(xlabel="document length (pre-tokens, log)", ylabel="", title="Document length by topic")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="domain")  # beside the boxes, not over them
    share = truth["domain"].value_counts(normalize=True).reindex(["medical", "borderline", "general"])
    sns.barplot(x=share.index, y=share.values, hue=share.index, ax=ax2, legend=False)
    ax2.set(ylabel="share of documents", xlabel="", title="Label shares")
    ax2.tick_params(axis="x", rotation=30)
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage 00 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed import artifacts, io

    v: dict = {}
    s = io.read_json(artifacts.corpus_stats(cfg))
    v["corpus.n_docs"] = s["n_docs"]
    if cfg.corpus.source == "synthetic":
        from definemed.corpus.stats import load_truth

        truth = load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS))
        v["corpus.medical_share"] = float(truth["is_medical"].mean())
    return v
