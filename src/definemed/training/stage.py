"""Stage 04: continual pre-training of each small foundation model on FineMed-de.

For each model with role `small`: tokenize FineMed-de with the model's own tokenizer into a
memory-mapped token file (held-out documents set aside), plan the packing, launch the FSDP2 run
with torchrun, export the final model to `04_cpt/models/<name>/`, and write its loss curve.
Outputs under data/<profile>/04_cpt/:

- data/<name>/train.{tokens,offsets}, plan.npz, heldout_{medical,general}.{tokens,offsets}
- runs/<name>/          run.json, checkpoints/, metrics.jsonl, train.log (a rerun resumes here)
- models/<name>/        the Hugging Face folder stage 05 reads
- loss/<name>.{csv,json} per-step loss, learning rate, gradient norm, tokens/s
"""
from __future__ import annotations

import functools
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from definemed import artifacts, io
from definemed.config import Config
from definemed.errors import DefinemedError
from definemed.packing import (TokenFile, chunking_efficiency, padding_efficiency, plan_packing,
                               write_token_file)
from definemed.seed import rng

def stage_dir(cfg: Config) -> Path:
    return artifacts.stage_dir(cfg, artifacts.CPT)


def small_models(cfg: Config) -> list[str]:
    names = [m.name for m in cfg.models.foundations if m.role == "small"]
    if not names:
        raise DefinemedError("models.foundations: no model with role 'small' to adapt")
    return names


def foundation_dir(cfg: Config, name: str) -> Path:
    return artifacts.foundation_model(cfg, name)


def cpt_model_dir(cfg: Config, name: str) -> Path:
    return artifacts.cpt_model(cfg, name)


def fingerprint(cfg: Config, name: str) -> str:
    """Key of one model's token files, run and export: the stage's recorded fingerprint (cpt config,
    seed, code, and the content of the foundation models, FineMed-de and the corpus; see
    definemed.stages), the cpt config and the model's name. Content only: copying the tree keeps it."""
    from definemed import stages

    return stages.work_key(cfg, artifacts.CPT, name, stages.fingerprinted(cfg, "cpt"), cfg.seed)


def load_finemed(cfg: Config) -> pd.DataFrame:
    """FineMed-de documents (id, text) from 03_filter, in a stable order."""
    d = artifacts.finemed_shards(cfg)
    files = sorted(d.glob("*.parquet"))
    if not files:
        raise DefinemedError(f"{d}: no FineMed-de shards (run stage 03_filter first)")
    df = pd.concat([pd.read_parquet(f, columns=["id", "text"]) for f in files], ignore_index=True)
    df = df[df.text.astype(str).map(len) > 0] if len(df) else df
    if df.empty:
        raise DefinemedError(f"{d}: FineMed-de is empty (no document passed the filter)")
    return df.reset_index(drop=True)


def load_general(cfg: Config, exclude: set[str], n: int) -> pd.DataFrame:
    """A seeded sample of web documents that are not in FineMed-de (general text)."""
    from definemed.corpus.streaming import general_pool_files, sample_general

    # streamed (ids first, then only the chosen texts), in permutation order: the first documents
    # (the held-out set) do not depend on n
    return sample_general(general_pool_files(cfg), exclude, n, rng(cfg.seed, "cpt-general"))


def split_documents(cfg: Config) -> dict[str, pd.DataFrame]:
    """train (FineMed-de minus held-out, plus replay), heldout_medical, heldout_general."""
    med = load_finemed(cfg)
    if cfg.cpt.max_docs:
        med = med.iloc[:cfg.cpt.max_docs]
    n_hold = min(cfg.cpt.heldout_docs, max(1, len(med) // 10))
    perm = rng(cfg.seed, "cpt-heldout").permutation(len(med))
    held = med.iloc[np.sort(perm[:n_hold])].reset_index(drop=True)
    train = med.iloc[np.sort(perm[n_hold:])].reset_index(drop=True)
    if train.empty:
        raise DefinemedError(f"{artifacts.finemed_shards(cfg)}: too few FineMed-de documents to hold some out and train")
    general_pool = load_general(cfg, set(med.id), n_hold + (len(train) * 4 if cfg.cpt.replay_share else 0))
    out = {"train": train, "heldout_medical": held, "heldout_general": general_pool.iloc[:n_hold]}
    if cfg.cpt.replay_share:
        # replay documents until they make up replay_share of the training characters
        med_chars = train.text.str.len().sum()
        want = med_chars * cfg.cpt.replay_share / (1 - cfg.cpt.replay_share)
        pool = general_pool.iloc[n_hold:]
        k = int(np.searchsorted(pool.text.str.len().cumsum().to_numpy(), want)) + 1
        out["train"] = pd.concat([train, pool.iloc[:k]], ignore_index=True)
        out["n_replay_docs"] = k
    return out


def load_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)


def tokenize_to_file(tokenizer, texts: list[str], path: Path, batch: int = 512) -> dict:
    """Tokenize in batches (bos + text + eos, when the tokenizer has them) into a token file."""
    from definemed.progress import tqdm

    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []

    def docs():
        for i in tqdm(range(0, len(texts), batch), desc=f"tokenize {path.name}", leave=False):
            # whole documents on purpose (the packer splits the long ones), so verbose=False drops the
            # tokenizer's "sequence length is longer than the specified maximum" warning
            for ids in tokenizer(texts[i:i + batch], add_special_tokens=False, verbose=False)["input_ids"]:
                yield bos + ids + eos

    return write_token_file(docs(), path)


def packing_table(lengths: np.ndarray, seq_len: int, long_docs: str = "split", seed: int = 0) -> pd.DataFrame:
    """Sequences and efficiency of BFD packing vs one padded document per sequence vs
    concatenate-and-chunk (which cuts documents and mixes them inside a sequence)."""
    t0 = time.perf_counter()
    plan = plan_packing(lengths, seq_len, long_docs, seed=seed)
    dt = time.perf_counter() - t0
    pad = padding_efficiency(lengths, seq_len, long_docs)
    chunk = chunking_efficiency(lengths, seq_len)
    rows = [
        {"strategy": "best-fit decreasing (ours)", "sequences": plan.num_bins, "efficiency": plan.efficiency,
         "tokens_kept": plan.tokens_kept, "cross_document_attention": "none", "plan_seconds": dt},
        {"strategy": "one document per sequence, padded", "sequences": pad["num_bins"],
         "efficiency": pad["efficiency"], "tokens_kept": pad["tokens_kept"], "cross_document_attention": "none",
         "plan_seconds": float("nan")},
        {"strategy": "concatenate and chunk", "sequences": chunk["num_bins"], "efficiency": chunk["efficiency"],
         "tokens_kept": chunk["tokens_kept"],
         "cross_document_attention": f"{chunk['docs_cut']} documents cut", "plan_seconds": float("nan")},
    ]
    return pd.DataFrame(rows)


def lazy_splits(cfg: Config):
    """`split_documents(cfg)` on first call, then the same dict: `cpt-tokenize` and `cpt` read
    FineMed-de only when some model's data is not prepared yet."""
    return functools.cache(lambda: split_documents(cfg))


def prepare_data(cfg: Config, name: str, splits=None) -> dict:
    """Token files and the packing plan of one model (its tokenizer); skipped if already written,
    before any document is read. `splits`: the split dict, or a `lazy_splits` callable."""
    d = stage_dir(cfg) / "data" / name
    info_file = d / "prepared.json"
    fp = fingerprint(cfg, name)
    if info_file.is_file() and io.read_json(info_file).get("fingerprint") == fp:
        # paths from this tree, not the one that wrote the file (a copied tree stays valid)
        return {**io.read_json(info_file), "data": str(d / "train"), "plan_file": str(d / "plan.npz")}
    if d.exists():
        shutil.rmtree(d)
    splits = splits() if callable(splits) else (splits or split_documents(cfg))
    tok = load_tokenizer(foundation_dir(cfg, name))
    d.mkdir(parents=True, exist_ok=True)
    info = {"model": name}
    for split in ("train", "heldout_medical", "heldout_general"):
        if cfg.cpt.tokenize_num_proc > 1:  # its own parallel CPU step (training/tokenize.py)
            from definemed.training.tokenize import tokenize_parallel

            info[split] = tokenize_parallel(foundation_dir(cfg, name), splits[split].text.tolist(), d / split,
                                            cfg.cpt.tokenize_num_proc)
        else:
            info[split] = tokenize_to_file(tok, splits[split].text.tolist(), d / split)
    lengths = TokenFile(d / "train").lengths
    plan = plan_packing(lengths, cfg.cpt.seq_len, cfg.cpt.long_docs, seed=cfg.seed)
    plan.save(d / "plan.npz")
    info.update({"fingerprint": fp, "plan": plan.summary(), "n_replay_docs": int(splits.get("n_replay_docs", 0)),
                 "data": str(d / "train"), "plan_file": str(d / "plan.npz")})
    io.write_json(info_file, info)
    return info


def total_steps(cfg: Config, num_bins: int) -> int:
    return cfg.cpt.steps or max(1, math.ceil(cfg.cpt.epochs * num_bins / cfg.cpt.global_batch))


def run_spec(cfg: Config, name: str, info: dict, **launch):
    """The run spec of one model: every `cpt` setting the spec also has is taken from the config by
    name (no hand copy: a new training setting is one field in each), plus the paths, the step count
    and the seed. `launch` sets the topology the launch must have (nnodes, nproc_per_node)."""
    from definemed.training.spec import RunSpec

    c = cfg.cpt.for_model(name).model_dump()  # with the model's cpt.per_model settings
    spec = {k: c[k] for k in RunSpec.model_fields if k in c}
    spec.update(nnodes=None, nproc_per_node=None)  # checked only against a launch that states them
    spec.update(launch, model_dir=str(foundation_dir(cfg, name)), data=info["data"], plan=info["plan_file"],
                out_dir=str(stage_dir(cfg) / "runs" / name), steps=total_steps(cfg, info["plan"]["num_bins"]),
                resume=True, seed=cfg.seed)
    return RunSpec(**spec)


def train_model(cfg: Config, name: str, info: dict, nproc: int | None = None, force: bool = False) -> dict:
    """Launch the FSDP run of one model (resuming an interrupted one) and publish its export; a run
    the Slurm script finished is published and reused (`definemed.training.run_record`)."""
    from definemed.training import run_record

    return run_record.train(cfg, name, info, nproc=nproc, force=force)


def perplexity(model_dir: Path, token_file: Path, seq_len: int, threads: int = 2, device: str = "auto") -> dict:
    """Held-out perplexity of the model folder on a token file (definemed.lm_metrics.perplexity):
    on a GPU in bf16 (batched, chunked loss), else on CPU in fp32."""
    import torch

    from definemed.lm_metrics import load_causal_lm, perplexity as lm_perplexity

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(threads)
    model, _ = load_causal_lm(model_dir, device=device, dtype=torch.bfloat16 if device.startswith("cuda") else torch.float32)
    res = lm_perplexity(model, token_file, seq_len)
    return {"nll": res["nll"], "perplexity": res["ppl"], "tokens": res["tokens"]}


def heldout_file(cfg: Config, name: str, split: str) -> Path:
    """The held-out token file ('medical' from FineMed-de, 'general' from the rest) of one model family."""
    return artifacts.cpt_heldout(cfg, name, split)


def perplexities(cfg: Config, name: str, which: str) -> dict:
    """Held-out perplexity of the foundation ('before') or the CPT model ('after'), cached as JSON."""
    f = stage_dir(cfg) / "eval" / f"{name}-{which}.json"
    fp = fingerprint(cfg, name)
    if f.is_file() and io.read_json(f).get("fingerprint") == fp:
        return io.read_json(f)["perplexity"]
    model_dir = foundation_dir(cfg, name) if which == "before" else cpt_model_dir(cfg, name)
    out = {split: perplexity(model_dir, heldout_file(cfg, name, split), cfg.cpt.seq_len) for split in ("medical", "general")}
    io.write_json(f, {"fingerprint": fp, "perplexity": out})
    return out


def perplexity_rows(cfg: Config, names: list[str]) -> pd.DataFrame:
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


def fact_exposures(cfg: Config, train_ids: list[str], tokens_trained: float, tokens_per_epoch: int) -> dict | None:
    """Synthetic corpus only: how often the training run showed each fact (fact mentions per epoch
    from the ground truth, times the epochs trained)."""
    if cfg.corpus.source != "synthetic":
        return None
    from definemed.corpus.stats import load_truth

    truth = load_truth(artifacts.stage_dir(cfg, artifacts.CORPUS)).set_index("id")
    ids = [i for i in train_ids if i in truth.index]
    mentions = pd.Series(np.concatenate([np.asarray(f) for f in truth.loc[ids, "fact_ids"]] or [np.zeros(0)]))
    per_fact = mentions.value_counts()
    epochs = tokens_trained / max(1, tokens_per_epoch)
    n_facts = 3 * (cfg.corpus.n_drugs + cfg.corpus.n_diseases)
    exp = per_fact.reindex(range(n_facts), fill_value=0) * epochs
    return {"epochs": epochs, "facts": n_facts, "median_exposures": float(exp.median()),
            "share_facts_over_200": float((exp >= 200).mean())}


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    with io.atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)


def run(cfg: Config) -> dict:
    """Stage 04 for every small foundation model: data, packing plan, FSDP2 run, export, perplexity
    before and after; tables for the notebook in 04_cpt/{packing,runs,perplexity}.parquet."""
    names = small_models(cfg)
    splits = split_documents(cfg)  # its training ids count the fact exposures below
    infos = {name: prepare_data(cfg, name, splits) for name in names}
    packing = pd.concat([packing_table(TokenFile(i["data"]).lengths, cfg.cpt.seq_len, cfg.cpt.long_docs, cfg.seed)
                         .assign(model=n) for n, i in infos.items()], ignore_index=True)
    _write_parquet(packing, stage_dir(cfg) / "packing.parquet")
    runs = pd.DataFrame([train_model(cfg, n, infos[n]) for n in names]).drop(columns=["model_dir"])
    runs["train_documents"] = [infos[n]["train"]["n_docs"] for n in names]
    runs["train_tokens"] = [infos[n]["train"]["n_tokens"] for n in names]
    runs["n_replay_docs"] = [infos[n].get("n_replay_docs", 0) for n in names]
    _write_parquet(runs, stage_dir(cfg) / "runs.parquet")
    exposures = {n: fact_exposures(cfg, splits["train"].id.tolist(),
                                   int(runs.set_index("model").loc[n, "steps"]) * cfg.cpt.global_batch
                                   * cfg.cpt.seq_len * infos[n]["plan"]["efficiency"], infos[n]["train"]["n_tokens"])
                 for n in names}
    if all(exposures.values()):
        io.write_json(stage_dir(cfg) / "fact_exposures.json", exposures)
    ppl = perplexity_rows(cfg, names)
    _write_parquet(ppl, artifacts.cpt_perplexity(cfg))
    return {"models": names,
            "packing_efficiency": {n: i["plan"]["efficiency"] for n, i in infos.items()},
            "steps": {r.model: int(r.steps) for r in runs.itertuples()},
            "final_loss": {r.model: float(r.final_loss) for r in runs.itertuples()},
            "label_tokens_per_s": {r.model: r.label_tokens_per_s for r in runs.itertuples()},
            "ppl": ppl[["model", "held-out text", "perplexity before CPT", "perplexity after CPT"]].to_dict("records")}
