"""Corpus statistics from the ground-truth files: what the generator planted, measured back."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def load_truth(corpus_dir: str | Path) -> pd.DataFrame:
    files = sorted((Path(corpus_dir) / "truth").glob("truth-*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def corpus_stats(truth: pd.DataFrame, n_facts: int) -> dict:
    n = len(truth)
    exposures = np.zeros(n_facts, dtype=np.int64)
    for ids in truth["fact_ids"]:
        if len(ids):
            np.add.at(exposures, np.asarray(ids), 1)
    q = truth["n_pretokens"].quantile([0.1, 0.5, 0.9, 0.99]).to_dict()
    noisy = truth["typo_noisy"]
    return {
        "n_docs": int(n),
        "domain_share": {k: round(v / n, 4) for k, v in truth["domain"].value_counts().sort_index().items()},
        "topic_share": {k: round(v / n, 4) for k, v in truth["topic"].value_counts().sort_index().items()},
        "medical_share": round(float(truth["is_medical"].mean()), 4),
        "n_words_total": int(truth["n_words"].sum()),
        "pretokens_quantiles": {f"p{int(k * 100)}": round(float(v), 1) for k, v in q.items()},
        "pretokens_max": int(truth["n_pretokens"].max()),
        "docs_over_4096_pretokens": int((truth["n_pretokens"] > 4096).sum()),
        "english_doc_share": round(float((truth["n_english_sentences"] > 0).mean()), 4),
        "typo_doc_share": round(float(noisy.mean()), 4),
        "typo_rate_per_eligible_word": round(float(truth.loc[noisy, "n_typos"].sum()
                                                   / max(truth.loc[noisy, "n_typo_eligible"].sum(), 1)), 4),
        "n_typos_total": int(truth["n_typos"].sum()),
        "n_facts": int(n_facts),
        "facts_covered": int((exposures > 0).sum()),
        "fact_exposures_min": int(exposures.min()),
        "fact_exposures_median": float(np.median(exposures)),
        "fact_exposures_total": int(exposures.sum()),
    }
