"""Tables and figures of stage 04, read from the files the stage wrote (never recomputed here)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from definemed import io
from definemed.config import Config
from definemed.training import stage


def perplexities(cfg: Config, name: str, which: str) -> dict:
    """Held-out perplexity of the foundation ('before') or the CPT model ('after'), cached as JSON."""
    f = stage.stage_dir(cfg) / "eval" / f"{name}-{which}.json"
    fp = stage.fingerprint(cfg, name)
    if f.is_file() and io.read_json(f).get("fingerprint") == fp:
        return io.read_json(f)["perplexity"]
    model_dir = stage.foundation_dir(cfg, name) if which == "before" else stage.cpt_model_dir(cfg, name)
    d = stage.stage_dir(cfg) / "data" / name
    out = {split: stage.perplexity(model_dir, d / f"heldout_{split}", cfg.cpt.seq_len) for split in ("medical", "general")}
    io.write_json(f, {"fingerprint": fp, "perplexity": out})
    return out


def perplexity_table(cfg: Config, names: list[str]) -> pd.DataFrame:
    rows = []
    for name in names:
        before, after = perplexities(cfg, name, "before"), perplexities(cfg, name, "after")
        for split in ("medical", "general"):
            rows.append({"model": name, "held-out text": split,
                         "perplexity before CPT": before[split]["perplexity"],
                         "perplexity after CPT": after[split]["perplexity"],
                         "change (x)": after[split]["perplexity"] / before[split]["perplexity"],
                         "tokens": before[split]["tokens"], "paper_key": None})
    return pd.DataFrame(rows)


def plot_loss_curves(cfg: Config, names: list[str]) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in names:
        curve = pd.read_csv(stage.stage_dir(cfg) / "loss" / f"{name}.csv")
        smooth = curve["loss"].rolling(10, min_periods=1).mean()
        axes[0].plot(curve["step"], curve["loss"], alpha=0.25)
        axes[0].plot(curve["step"], smooth, label=name, color=axes[0].lines[-1].get_color())
        axes[1].plot(curve["step"], curve["lr"], label=name)
    axes[0].set(xlabel="optimizer step", ylabel="training loss (nats / label token)", title="CPT loss on FineMed-de")
    axes[1].set(xlabel="optimizer step", ylabel="learning rate", title="warm-up + cosine")
    axes[0].legend()
    fig.tight_layout()
    return fig


def fact_exposures(cfg: Config, train_ids: list[str], tokens_trained: int, tokens_per_epoch: int) -> dict | None:
    """Synthetic corpus only: how often the training run showed each fact (fact mentions per epoch
    from the ground truth, times the epochs trained). Facts are learned past ~200 exposures."""
    if cfg.corpus.source != "synthetic":
        return None
    from definemed.corpus import corpus_dir
    from definemed.corpus.stats import load_truth

    truth = load_truth(corpus_dir(cfg)).set_index("id")
    ids = [i for i in train_ids if i in truth.index]
    mentions = pd.Series(np.concatenate([np.asarray(f) for f in truth.loc[ids, "fact_ids"]] or [np.zeros(0)]))
    per_fact = mentions.value_counts()
    epochs = tokens_trained / max(1, tokens_per_epoch)
    n_facts = 3 * (cfg.corpus.n_drugs + cfg.corpus.n_diseases)
    exp = per_fact.reindex(range(n_facts), fill_value=0) * epochs
    return {"epochs": epochs, "facts": n_facts, "median_exposures": float(exp.median()),
            "share_facts_over_200": float((exp >= 200).mean())}
