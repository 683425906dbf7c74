"""Which documents get labelled: a seeded sample of `label.n_docs` corpus documents that always
contains every expert-annotated document (so agreement with the experts can be measured).

Works on row positions and the `id` column only, so a 427M-document corpus is sampled without
holding its ids in memory: the expert positions are found in one pass over the id columns, the other
positions are drawn without replacement from the remaining rows, and the texts are read last.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from definemed.corpus.loader import read_shard, shard_paths, shard_rows
from definemed.errors import DefinemedError
from definemed.seed import rng


def expert_file(corpus_dir: Path) -> Path:
    return Path(corpus_dir) / "expert_annotations.parquet"


def load_experts(corpus_dir: Path) -> pd.DataFrame | None:
    """The expert annotations (id, label, label_a, label_b, agree), or None if the corpus has none."""
    f = expert_file(corpus_dir)
    if not f.exists():
        return None
    try:
        df = pd.read_parquet(f)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise DefinemedError(f"{f}: unreadable expert annotations ({e})") from None
    missing = {"id", "label"} - set(df.columns)
    if missing:
        raise DefinemedError(f"{f}: missing column(s) {', '.join(sorted(missing))}")
    if df["id"].duplicated().any():
        raise DefinemedError(f"{f}: duplicate document ids")
    return df


def select_documents(corpus_dir: Path, n_docs: int, seed: int) -> pd.DataFrame:
    """id, text, is_expert of the sample, in corpus order."""
    files = shard_paths(corpus_dir)
    experts = load_experts(corpus_dir)
    expert_ids = set(experts["id"]) if experts is not None else set()
    if n_docs < len(expert_ids):
        raise DefinemedError(f"label.n_docs: {n_docs} is less than the {len(expert_ids)} expert-annotated "
                             "documents, which must all be labelled")
    counts = [shard_rows(f) for f in files]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    total = int(offsets[-1])
    if n_docs > total:
        raise DefinemedError(f"label.n_docs: {n_docs} is more than the {total} documents in {Path(corpus_dir) / 'shards'}")
    expert_pos, found = [], set()
    if expert_ids:
        wanted = list(expert_ids)
        for f, off in zip(files, offsets):
            ids = read_shard(f, ["id"]).column("id")
            hit = pc.is_in(ids, value_set=pa.array(wanted)).to_numpy(zero_copy_only=False)
            pos = np.flatnonzero(hit)
            expert_pos.extend((pos + off).tolist())
            found.update(ids.take(pos).to_pylist())
        missing = expert_ids - found
        if missing:
            raise DefinemedError(f"{expert_file(corpus_dir)}: {len(missing)} expert-annotated ids are not in "
                                 f"the corpus shards (e.g. {sorted(missing)[0]})")
    ep = np.sort(np.asarray(expert_pos, dtype=np.int64))
    k = n_docs - len(ep)
    draws = rng(seed, "label-sample").choice(total - len(ep), size=k, replace=False) if k else np.array([], np.int64)
    # map a draw r among the non-expert rows to its corpus position: skip the expert rows at or before it
    pos = draws + np.searchsorted(ep - np.arange(len(ep)), draws, side="right")
    chosen = np.sort(np.concatenate([ep, pos]).astype(np.int64))
    frames = []
    for i, f in enumerate(files):
        lo, hi = np.searchsorted(chosen, [offsets[i], offsets[i + 1]])
        if hi > lo:
            t = read_shard(f, ["id", "text"]).take(chosen[lo:hi] - offsets[i])
            frames.append(t.to_pandas())
    out = pd.concat(frames, ignore_index=True)
    if out["id"].duplicated().any():
        raise DefinemedError(f"{Path(corpus_dir) / 'shards'}: duplicate document ids in the corpus")
    out["is_expert"] = out["id"].isin(expert_ids)
    return out


def sample_hash(ids) -> str:
    h = hashlib.sha256()
    for i in ids:
        h.update(str(i).encode() + b"\0")
    return h.hexdigest()[:16]
