"""What notebook 05 does, as functions: run the merges, measure base / CPT / merged models, plot.

Outputs (data/<profile>/05_merge/):
- models/<name>/             the schedule merge of zoo/<name> (base) and 04_cpt/models/<name> (CPT)
- sweep/<name>/t<t>/         merges with one global t, for the trade-off curve
- configs/*.yaml             the mergekit-style YAML each merge was made from
- metrics/<label>.json       per-model measurements (a rerun skips measured models)
- metrics.parquet            all measurements, one row per model variant

Measurements (definemed.lm_metrics): medical and general perplexity on held-out synthetic documents
(drawn from corpus shards past the end of the corpus, so no model trained on them) and the
instruction-format rate on chat prompts built from the fact bank's questions.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from definemed import io, paths
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.merging.driver import merge
from definemed.merging.hf_folder import num_hidden_layers
from definemed.merging.schedule import layer_schedule, slerp_config
from definemed.merging.spec import load_spec
from definemed.seed import rng

STAGE = "05_merge"
HELDOUT_SHARD0 = 1_000_000
"""Corpus shard indices from here on are never part of the corpus (it has far fewer shards)."""


def stage_dir(cfg: Config) -> Path:
    return paths.stage_dir(cfg.profile, STAGE)


def small_models(cfg: Config) -> list[str]:
    return [m.name for m in cfg.models.foundations if m.role == "small"]


def base_dir(cfg: Config, name: str) -> Path:
    """The instruct foundation model (docs/CONTRACTS.md: zoo/<name>)."""
    return paths.stage_dir(cfg.profile, "zoo") / name


def cpt_dir(cfg: Config, name: str) -> Path:
    return paths.stage_dir(cfg.profile, "04_cpt") / "models" / name


def merged_dir(cfg: Config, name: str) -> Path:
    return stage_dir(cfg) / "models" / name


def sweep_dir(cfg: Config, name: str, t: float) -> Path:
    return stage_dir(cfg) / "sweep" / name / f"t{t:.2f}"


def check_inputs(cfg: Config) -> None:
    missing = [str(p) for n in small_models(cfg) for p in (base_dir(cfg, n), cpt_dir(cfg, n))
               if not (p / "config.json").is_file()]
    if missing:
        raise DefinemedError(f"{missing[0]}: input model missing (run the zoo step and stage 04 first; "
                             f"{len(missing)} missing)")


def _max_shard(cfg: Config) -> int:
    from definemed.merging.cli import _parse_size

    return _parse_size(cfg.merge.max_shard_size)


def merge_one(cfg: Config, name: str, t: Optional[float] = None) -> dict:
    """Merge one model with the profile's schedule (t=None) or one global t; skip if already made
    from the same normalised config (resume)."""
    base, other = base_dir(cfg, name), cpt_dir(cfg, name)
    mk = slerp_config(cfg.merge, base, other, t=t)
    label = name if t is None else f"{name}-t{t:.2f}"
    cfg_file = io.write_yaml(stage_dir(cfg) / "configs" / f"{label}.yaml", mk)
    out = merged_dir(cfg, name) if t is None else sweep_dir(cfg, name, t)
    want = yaml.safe_load(yaml.safe_dump(load_spec(mk).to_mergekit()))
    done = out / "merge_config.yaml"
    if done.is_file() and yaml.safe_load(done.read_text()) == want:
        return {"model": name, "t": t, "dir": str(out), "seconds": 0.0, "skipped": True}
    info = merge(cfg_file, out, force=True, threads=cfg.merge.threads, device=cfg.merge.device,
                 max_shard_bytes=_max_shard(cfg), progress=False)
    return {"model": name, "t": t, "dir": str(out), "seconds": info["seconds"], "skipped": False}


def run_merges(cfg: Config) -> pd.DataFrame:
    check_inputs(cfg)
    rows = []
    for name in small_models(cfg):
        rows.append(merge_one(cfg, name))
        for t in cfg.merge.sweep_t:
            rows.append(merge_one(cfg, name, t))
    return pd.DataFrame(rows)


# -- evaluation data ----------------------------------------------------------------------------
def heldout_texts(cfg: Config, n: int) -> dict[str, list[str]]:
    """n medical and n general documents the corpus never contained (fresh shards of the generator)."""
    from definemed.corpus.generator import CorpusGenerator

    gen = CorpusGenerator(cfg.corpus, cfg.seed)
    out: dict[str, list[str]] = {"medical": [], "general": []}
    shard = HELDOUT_SHARD0
    while min(len(v) for v in out.values()) < n:
        for d in gen.shard(shard, 500):
            dom = d.truth["domain"]
            if dom in out and len(out[dom]) < n:
                out[dom].append(d.record["text"])
        shard += 1
    return out


def chat_prompts(cfg: Config, n: int) -> list[str]:
    """Questions about the fact bank's facts, as a user would ask them in a chat."""
    from definemed.corpus import fact_bank
    from definemed.corpus.factbank import RELATIONS

    facts = fact_bank(cfg).facts
    idx = rng(cfg.seed, STAGE, "prompts").permutation(len(facts))[:n]
    return [RELATIONS[facts[i].relation].question.format(s=facts[i].subject) for i in idx]


def model_variants(cfg: Config) -> list[dict]:
    """Every model the notebook measures: base, CPT, schedule merge, and the global-t sweep."""
    out = []
    for name in small_models(cfg):
        out += [{"model": name, "variant": "base", "label": name, "t": 0.0, "dir": base_dir(cfg, name)},
                {"model": name, "variant": "cpt", "label": f"{name}-cpt", "t": 1.0, "dir": cpt_dir(cfg, name)},
                {"model": name, "variant": "slerp", "label": f"{name}-slerp", "t": None,
                 "dir": merged_dir(cfg, name)}]
        out += [{"model": name, "variant": "sweep", "label": f"{name}-t{t:.2f}", "t": t,
                 "dir": sweep_dir(cfg, name, t)} for t in cfg.merge.sweep_t]
    return out


def measure(cfg: Config, device: Optional[str] = None) -> pd.DataFrame:
    """Perplexities and format rate of every variant (cached per model in metrics/<label>.json)."""
    import torch
    from tqdm.auto import tqdm

    from definemed.lm_metrics import format_rate, load_causal_lm, perplexity

    m = cfg.merge
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    texts = heldout_texts(cfg, m.eval_docs)
    prompts = chat_prompts(cfg, m.format_prompts)
    rows = []
    for v in tqdm(model_variants(cfg), desc="measure", unit="model"):
        cache = stage_dir(cfg) / "metrics" / f"{v['label']}.json"
        stamp = (Path(v["dir"]) / "config.json").stat().st_mtime
        if cache.is_file() and io.read_json(cache).get("stamp") == stamp:
            rows.append(io.read_json(cache)["row"])
            continue
        t0 = time.time()
        model, tok = load_causal_lm(v["dir"], device=device, trust_remote_code=cfg.models.trust_remote_code)
        med = perplexity(model, tok, texts["medical"], max_len=m.eval_seq_len)
        gen = perplexity(model, tok, texts["general"], max_len=m.eval_seq_len)
        fmt = format_rate(model, tok, prompts, max_new_tokens=m.format_max_new_tokens)
        row = {"model": v["model"], "variant": v["variant"], "label": v["label"], "t": v["t"],
               "ppl_medical": med["ppl"], "ppl_general": gen["ppl"], "format_rate": fmt["rate"],
               "mean_new_tokens": fmt["mean_new_tokens"], "eval_tokens": med["tokens"] + gen["tokens"],
               "seconds": round(time.time() - t0, 1)}
        io.write_json(cache, {"stamp": stamp, "row": row})
        rows.append(row)
        del model
    df = pd.DataFrame(rows)
    out = stage_dir(cfg) / "metrics.parquet"
    with io.atomic_path(out, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return df


# -- presentation ---------------------------------------------------------------------------------
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
            line, = ax.plot(s["t"], s[col], marker="o", label=name)
            ax.scatter([0.5] * len(slerp), slerp[col], marker="*", s=160, color=line.get_color(), zorder=3,
                       label=f"{name}-slerp (schedule)")
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
