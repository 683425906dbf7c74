"""Stage 05: merge each CPT model with its instruct base (the profile's SLERP schedule and a sweep of
global t), then measure base, CPT and merged models. `run(cfg)` writes data/<profile>/05_merge/:
- models/<name>/             the schedule merge of zoo/<name> (base) and 04_cpt/models/<name> (CPT)
- sweep/<name>/t<t>/         merges with one global t, for the trade-off curve
- configs/*.yaml             the mergekit-style YAML each merge was made from
- metrics/<label>.json       per-model measurements (`ctx.unit`: a rerun skips measured models)
- metrics.parquet            all measurements, one row per model variant

Measurements (definemed.lm_metrics): medical and general perplexity on stage 04's held-out token
files (the same documents and the same definition as 04's before/after numbers) and the
instruction-format rate on chat prompts built from the fact bank's questions.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import pandas as pd
import yaml

from definemed import artifacts, io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.merging.driver import merge
from definemed.merging.schedule import slerp_config
from definemed.merging.spec import load_spec
from definemed.seed import rng

def stage_dir(cfg: Config) -> Path:
    return artifacts.stage_dir(cfg, artifacts.MERGE)


def small_models(cfg: Config) -> list[str]:
    return [m.name for m in cfg.models.foundations if m.role == "small"]


def base_dir(cfg: Config, name: str) -> Path:
    """The instruct foundation model (t = 0)."""
    return artifacts.foundation_model(cfg, name)


def cpt_dir(cfg: Config, name: str) -> Path:
    return artifacts.cpt_model(cfg, name)


def merged_dir(cfg: Config, name: str) -> Path:
    return artifacts.merged_model(cfg, name)


def sweep_dir(cfg: Config, name: str, t: float) -> Path:
    return artifacts.output(cfg, artifacts.MERGE, "sweep_model", name=name, t=t)


def check_inputs(cfg: Config) -> None:
    missing = [str(p) for n in small_models(cfg) for p in (base_dir(cfg, n), cpt_dir(cfg, n))
               if not (p / "config.json").is_file()]
    if missing:
        raise DefinemedError(f"{missing[0]}: input model missing (run the zoo step and stage 04 first; "
                             f"{len(missing)} missing)")


def _max_shard(cfg: Config) -> int:
    from definemed.merging.cli import _parse_size

    return _parse_size(cfg.merge.max_shard_size)


def merge_one(ctx, name: str, t: Optional[float] = None) -> dict:
    """Merge one model with the profile's schedule (t=None) or one global t: one resumable unit keyed
    by its normalised mergekit config and the two input folders."""
    cfg = ctx.cfg
    base, other = ctx.input(artifacts.ZOO, "model", name=name), ctx.input(artifacts.CPT, "model", name=name)
    mk = slerp_config(cfg.merge, base, other, t=t)
    label = name if t is None else f"{name}-t{t:.2f}"
    cfg_file = io.write_yaml(ctx.out("merge_config", label=label), mk)
    out = ctx.out("model", name=name) if t is None else ctx.out("sweep_model", name=name, t=t)
    want = yaml.safe_dump(load_spec(mk).to_mergekit()).replace(str(base), "<base>").replace(str(other), "<other>")
    with ctx.unit(f"merge/{label}", inputs={"config": want, "base": base, "other": other,
                                             "dtype": cfg.merge.dtype, "shard": cfg.merge.max_shard_size}) as u:
        if u.done and (out / "config.json").is_file():
            return {"model": name, "t": t, "dir": str(out), "seconds": 0.0, "resumed": True}
        info = merge(cfg_file, out, force=True, threads=cfg.merge.threads, device=cfg.merge.device,
                     max_shard_bytes=_max_shard(cfg), progress=False)
    return {"model": name, "t": t, "dir": str(out), "seconds": info["seconds"], "resumed": False}


def run_merges(ctx) -> pd.DataFrame:
    check_inputs(ctx.cfg)
    rows = []
    for name in small_models(ctx.cfg):
        rows.append(merge_one(ctx, name))
        for t in ctx.cfg.merge.sweep_t:
            rows.append(merge_one(ctx, name, t))
    return pd.DataFrame(rows)


# -- evaluation data ----------------------------------------------------------------------------
def chat_prompts(cfg: Config, n: int) -> list[str]:
    """Questions about the fact bank's facts, as a user would ask them in a chat; in the paper profile
    (evaluate.source: hub) German medical questions held out of stage 06's win-rate set (MedQA-de)."""
    if cfg.evaluate.source == "hub":
        from definemed.evaluation.loaders import heldout_questions

        return heldout_questions(cfg, n)
    from definemed.corpus import fact_bank
    from definemed.corpus.factbank import RELATIONS

    facts = fact_bank(cfg).facts
    idx = rng(cfg.seed, artifacts.MERGE, "prompts").permutation(len(facts))[:n]
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


def measure(ctx, device: Optional[str] = None) -> pd.DataFrame:
    """Perplexities and format rate of every variant: one resumable unit per model, keyed by the model
    folder, the held-out token files and the prompts (its row kept in metrics/<label>.json)."""
    import torch

    from definemed.lm_metrics import format_rate, load_causal_lm, perplexity
    from definemed.progress import tqdm

    cfg, m = ctx.cfg, ctx.cfg.merge
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    prompts = chat_prompts(cfg, m.format_prompts)
    rows = []
    for v in tqdm(model_variants(cfg), desc="measure", unit="model"):
        heldout = {split: ctx.input(artifacts.CPT, "heldout", name=v["model"], split=split)
                   for split in ("medical", "general")}
        cache = ctx.out("measured", label=v["label"])
        with ctx.unit(f"measure/{v['label']}", inputs={"model": Path(v["dir"]), "heldout": heldout, "prompts": prompts,
                                                       "seq_len": cfg.cpt.seq_len, "max_new": m.format_max_new_tokens}) as u:
            if u.done and cache.is_file():
                rows.append(io.read_json(cache)["row"])
                continue
            t0 = time.time()
            model, tok = load_causal_lm(v["dir"], device=device, trust_remote_code=cfg.models.trust_remote_code)
            med, gen = (perplexity(model, heldout[split], cfg.cpt.seq_len) for split in ("medical", "general"))
            fmt = format_rate(model, tok, prompts, max_new_tokens=m.format_max_new_tokens)
            row = {"model": v["model"], "variant": v["variant"], "label": v["label"], "t": v["t"],
                   "ppl_medical": med["ppl"], "ppl_general": gen["ppl"], "format_rate": fmt["rate"],
                   "mean_new_tokens": fmt["mean_new_tokens"], "eval_tokens": med["tokens"] + gen["tokens"],
                   "seconds": round(time.time() - t0, 1)}
            io.write_json(cache, {"row": row})
            rows.append(row)
            del model
    df = pd.DataFrame(rows)
    with io.atomic_path(ctx.out("metrics"), suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)
    return df


def run(ctx) -> dict:
    """Stage 05 (a `definemed.context.StageContext`; see the module docstring)."""
    runs = run_merges(ctx)
    with io.atomic_path(ctx.out("merges"), suffix=".parquet") as tmp:
        runs.drop(columns=["dir"]).to_parquet(tmp, index=False)
    metrics = measure(ctx)
    return {"merged_models": int(runs["t"].isna().sum()), "sweep_merges": int(runs["t"].notna().sum()),
            "merge_seconds": float(runs["seconds"].sum()), "measured_models": len(metrics)}
