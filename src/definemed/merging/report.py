"""Tables and figures of stage 05, read from what the stage wrote (merge reports, metrics.parquet)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from definemed import artifacts, io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.merging.hf_folder import num_hidden_layers
from definemed.merging.schedule import layer_schedule
from definemed.merging.stage import base_dir, merged_dir, small_models
from definemed.plotting import model_color


def load_metrics(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(artifacts.merge_metrics(cfg))


def load_merges(cfg: Config) -> pd.DataFrame:
    return pd.read_parquet(artifacts.stage_dir(cfg, artifacts.MERGE) / "merges.parquet")


def schedule_frame(cfg: Config) -> pd.DataFrame:
    """Per-layer t of each small model's schedule merge, read back from its merge report."""
    frames = []
    for name in small_models(cfg):
        n = num_hidden_layers(base_dir(cfg, name))
        df = layer_schedule(cfg.merge, n)
        report = io.read_json(merged_dir(cfg, name) / "merge_report.json")
        used = {}
        for r in report["tensors"]:
            if r["layer"] is not None:
                comp = "self_attn" if "self_attn" in r["name"] else "mlp" if "mlp" in r["name"] else "other"
                used.setdefault((r["layer"], comp), set()).add(r["t"])
        for comp in ("self_attn", "mlp", "other"):
            got = [used.get((i, comp)) for i in range(n)]
            if any(g is None or len(g) != 1 or abs(next(iter(g)) - w) > 1e-12 for g, w in zip(got, df[comp])):
                raise DefinemedError(f"{merged_dir(cfg, name)}: merged {comp} t differ from the configured schedule")
        frames.append(df.assign(model=name))
    return pd.concat(frames, ignore_index=True)


def plot_schedule(sched: pd.DataFrame) -> plt.Figure:
    models = list(dict.fromkeys(sched["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], models):
        d = sched[sched["model"] == name]
        for comp, marker in (("self_attn", "o"), ("mlp", "s"), ("other", "^")):
            ax.plot(d["layer"], d[comp], marker=marker, label=comp)
        ax.set(title=name, xlabel="layer", ylim=(-0.05, 1.05))
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.axhline(0, color="grey", lw=0.5)
    axes[0][0].set_ylabel("t (0 = instruct base, 1 = CPT)")
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig


def plot_tradeoff(df: pd.DataFrame) -> plt.Figure:
    """Medical / general perplexity and format rate against global t; the schedule merge as a star."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for name, d in df.groupby("model", sort=False):
        s = d[d["variant"] == "sweep"].sort_values("t")
        slerp = d[d["variant"] == "slerp"]
        for ax, col in zip(axes, ("ppl_medical", "ppl_general", "format_rate")):
            ax.plot(s["t"], s[col], marker="o", label=f"{name} (global t)", color=model_color(name))
            ax.scatter([0.5] * len(slerp), slerp[col], marker="*", s=160, color=model_color(f"{name}-slerp"),
                       edgecolor="black", linewidth=0.6, zorder=3, label=f"{name}-slerp (schedule)")
    for ax, title in zip(axes, ("medical perplexity", "general perplexity", "instruction-format rate")):
        ax.set(xlabel="global t (0 = base, 1 = CPT)", title=title)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[2].set_ylim(-0.05, 1.05)
    axes[2].legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize=8)
    fig.tight_layout()
    return fig


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Base, CPT and schedule merge per model, with the paper's column (it reports no such numbers)."""
    from definemed.tables import comparison

    rows = []
    for _, r in df[df["variant"].isin(["base", "cpt", "slerp"])].iterrows():
        rows.append({"model": r["label"], "ppl_medical": r["ppl_medical"], "ppl_general": r["ppl_general"],
                     "format_rate": r["format_rate"], "paper_key": "merge.method" if r["variant"] == "slerp" else None})
    return comparison(rows)


def sweep_table(df: pd.DataFrame) -> pd.DataFrame:
    s = df[df["variant"] == "sweep"].pivot_table(index="t", columns="model",
                                                   values=["ppl_medical", "ppl_general", "format_rate"])
    s.columns = [f"{m}: {v}" for v, m in s.columns]
    return s.reset_index()


def results(cfg) -> dict:
    """Headline numbers of stage 05 for the results file (`definemed.report.results`):
    {dotted key: number or text}, read from the stage's output files."""
    from definemed.report.results import number

    v: dict = {}
    m = pd.read_parquet(artifacts.merge_metrics(cfg))
    for r in m[m.variant.isin(["base", "cpt", "slerp"])].itertuples():
        for q in ("ppl_medical", "ppl_general", "format_rate"):
            v[f"merge.{r.label}.{q}"] = number(getattr(r, q))
    return v
