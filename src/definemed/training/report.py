"""Tables and figures of stage 04, read from the files the stage wrote (never recomputed here)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from definemed import artifacts, io
from definemed.config import Config
from definemed.plotting import model_color
from definemed.training import stage


def perplexity_table(cfg: Config) -> pd.DataFrame:
    """Held-out perplexity before and after CPT, as stage 04 measured it (04_cpt/perplexity.parquet)."""
    return pd.read_parquet(artifacts.cpt_perplexity(cfg))


def packing_table(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(stage.stage_dir(cfg) / "packing.parquet")


def runs_table(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(stage.stage_dir(cfg) / "runs.parquet")


def exposures_table(cfg: Config) -> pd.DataFrame | None:
    f = stage.stage_dir(cfg) / "fact_exposures.json"
    return pd.DataFrame(io.read_json(f)).T if f.is_file() else None


def plot_loss_curves(cfg: Config, names: list[str]) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name in names:
        curve = pd.read_csv(stage.stage_dir(cfg) / "loss" / f"{name}.csv")
        smooth = curve["loss"].rolling(10, min_periods=1).mean()
        color = model_color(f"{name}-cpt")  # the CPT model's colour in every figure
        axes[0].plot(curve["step"], curve["loss"], alpha=0.25, color=color)
        axes[0].plot(curve["step"], smooth, label=f"{name}-cpt", color=color)
        axes[1].plot(curve["step"], curve["lr"], label=f"{name}-cpt", color=color)
    axes[0].set(xlabel="optimizer step", ylabel="training loss (nats / label token)", title="CPT loss on FineMed-de")
    axes[1].set(xlabel="optimizer step", ylabel="learning rate", title="warm-up + cosine")
    axes[0].legend()
    fig.tight_layout()
    return fig


def results(cfg) -> dict:
    """Headline numbers of stage 04 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    v: dict = {}
    ppl = pd.read_parquet(artifacts.cpt_perplexity(cfg))
    for _, r in ppl.iterrows():
        v[f"cpt.{r['model']}.ppl_{r['held-out text']}_before"] = float(r["perplexity before CPT"])
        v[f"cpt.{r['model']}.ppl_{r['held-out text']}_after"] = float(r["perplexity after CPT"])
    f = artifacts.stage_dir(cfg, artifacts.CPT) / "fact_exposures.json"
    if f.is_file():
        for name, e in io.read_json(f).items():
            v[f"cpt.{name}.median_exposures"] = e["median_exposures"]
            v[f"cpt.{name}.share_facts_over_200"] = e["share_facts_over_200"]
    return v
