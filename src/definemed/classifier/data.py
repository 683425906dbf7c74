"""The classifier's data: the 01 LLM labels joined with the corpus texts, split into
train / validation (early stopping) / test (held-out evaluation), and the expert annotations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from definemed import artifacts
from definemed.config import Config
from definemed.corpus.loader import is_blank, read_shard, shard_paths
from definemed.errors import DefinemedError

LABEL_COLUMNS = ["id", "label"]
SPLITS = ("train", "val", "test")


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise DefinemedError(f"{path}: {what} not found")
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as e:
        raise DefinemedError(f"{path}: unreadable parquet file ({e})") from None


def read_labels(path: Path) -> tuple[pd.DataFrame, dict]:
    """Valid LLM labels (id, label in {0, 1}) and counts; invalid (-1) labels are dropped.

    Both classes must be present: a classifier cannot be trained (or early-stopped on F-beta) otherwise.
    """
    df = _read_parquet(Path(path), "LLM labels (stage 01)")
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise DefinemedError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = ~df["label"].isin([-1, 0, 1])
    if bad.any():
        raise DefinemedError(f"{path}: column 'label' has values outside {{-1, 0, 1}}: {sorted(df.loc[bad, 'label'].unique())[:5]}")
    if df["id"].duplicated().any():
        raise DefinemedError(f"{path}: duplicate ids in column 'id' (e.g. {df.loc[df['id'].duplicated(), 'id'].iloc[0]})")
    counts = {"n_labels": int(len(df)), "n_invalid": int((df["label"] == -1).sum())}
    df = df.loc[df["label"] != -1, ["id", "label"]].copy()
    df["label"] = df["label"].astype(np.int64)
    classes = sorted(df["label"].unique().tolist())
    if classes != [0, 1]:
        raise DefinemedError(f"{path}: labels contain only class(es) {classes} after dropping invalid ones; "
                             "the classifier needs medical (1) and non-medical (0) examples")
    counts.update(n_valid=int(len(df)), n_medical=int(df["label"].sum()))
    return df.reset_index(drop=True), counts


def read_expert(path: Path) -> pd.DataFrame:
    df = _read_parquet(Path(path), "expert annotations")
    missing = [c for c in LABEL_COLUMNS if c not in df.columns]
    if missing:
        raise DefinemedError(f"{path}: missing column(s) {', '.join(missing)}")
    return df[["id", "label"]].astype({"label": np.int64}).reset_index(drop=True)


def attach_texts(df: pd.DataFrame, corpus_dir: Path) -> pd.DataFrame:
    """Add the `text` of each id from the corpus shards; an id missing from the corpus is an error."""
    wanted = set(df["id"])
    parts = []
    for p in shard_paths(corpus_dir):
        t = read_shard(p, columns=["id", "text"])
        mask = pc.is_in(t["id"], value_set=pa.array(list(wanted), type=pa.string()))
        parts.append(t.filter(mask).to_pandas())
    texts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["id", "text"])
    out = df.merge(texts, on="id", how="left")
    if out["text"].isna().any():
        missing = out.loc[out["text"].isna(), "id"]
        raise DefinemedError(f"{corpus_dir}: {len(missing)} labelled id(s) not in the corpus shards (e.g. {missing.iloc[0]})")
    return out


def split_labels(df: pd.DataFrame, val_share: float, test_share: float, seed: int) -> pd.DataFrame:
    """Stratified train / val / test assignment (column `split`), deterministic in the seed."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    n_hold = val_share + test_share
    try:
        train_idx, hold_idx = train_test_split(idx, test_size=n_hold, stratify=df["label"], random_state=seed)
        val_idx, test_idx = train_test_split(hold_idx, test_size=test_share / n_hold,
                                             stratify=df["label"].iloc[hold_idx], random_state=seed)
    except ValueError as e:
        raise DefinemedError(f"labels: cannot split {len(df)} labels into train/val/test ({e})") from None
    split = np.empty(len(df), dtype=object)
    split[train_idx], split[val_idx], split[test_idx] = "train", "val", "test"
    out = df.copy()
    out["split"] = split
    return out


def load_classifier_data(cfg: Config, labels_file: Path | None = None, corpus_dir: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(labels with text and split, expert annotations with text, counts)."""
    c = cfg.classifier
    corpus_dir = Path(corpus_dir) if corpus_dir else artifacts.stage_dir(cfg, artifacts.CORPUS)
    labels, counts = read_labels(Path(labels_file) if labels_file else artifacts.labels(cfg))
    ep = corpus_dir / "expert_annotations.parquet"
    expert = read_expert(ep) if ep.is_file() else pd.DataFrame(columns=["id", "label"])
    if c.exclude_expert_docs and len(expert):
        overlap = labels["id"].isin(set(expert["id"]))
        counts["n_expert_overlap_dropped"] = int(overlap.sum())
        labels = labels.loc[~overlap].reset_index(drop=True)
        if sorted(labels["label"].unique().tolist()) != [0, 1]:
            raise DefinemedError("labels: only one class left after removing the expert-annotated documents")
    labels = attach_texts(labels, corpus_dir)
    blank = labels["text"].map(is_blank)
    counts["n_blank_dropped"] = int(blank.sum())  # no text, no topic: never a training example
    labels = split_labels(labels.loc[~blank].reset_index(drop=True), c.val_share, c.test_share, cfg.seed)
    if len(expert):
        expert = attach_texts(expert, corpus_dir)
    counts.update({f"n_{s}": int((labels["split"] == s).sum()) for s in SPLITS})
    counts["n_expert"] = int(len(expert))
    return labels, expert, counts
