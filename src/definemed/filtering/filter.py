"""The filter, shard by shard: read a corpus shard, score it, keep score >= threshold, write
03_filter/shards/shard-XXXXX.parquet (FineWeb2 fields + score float32) atomically.

Resumable: an output shard is final once it exists (written through a temporary name, so there is
never a partial shard); its parquet metadata records the threshold and the model fingerprint, and a
rerun skips shards whose record matches. `scores/scores-XXXXX.parquet` keeps every document's score
(id, score) for the figures; `shard_stats/` the per-shard counts.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from definemed.progress import tqdm

from definemed import artifacts, io
from definemed.classifier.metrics import check_threshold
from definemed.config import Config
from definemed.corpus.loader import is_blank, read_shard, shard_paths
from definemed.corpus.schema import FINEWEB2_FIELDS, FINEWEB2_SCHEMA
from definemed.errors import DefinemedError

OUTPUT_SCHEMA = FINEWEB2_SCHEMA.append(pa.field("score", pa.float32()))
SCORES_SCHEMA = pa.schema([("id", pa.string()), ("score", pa.float32())])
META_KEY = b"definemed.filter"


def keep_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The filter's rule: keep a document iff P(medical) >= threshold (threshold strictly in (0, 1))."""
    return np.asarray(scores, dtype=np.float32) >= np.float32(check_threshold(threshold, "filter threshold"))


def count_words(texts: pa.Array | pa.ChunkedArray) -> int:
    """Whitespace-separated words (how the corpus sizes are counted)."""
    if len(texts) == 0:
        return 0
    return int(pc.sum(pc.list_value_length(pc.utf8_split_whitespace(texts))).as_py() or 0)


def model_fingerprint(model_dir: Path) -> str:
    """sha256 (first 16 hex digits) of the classifier weights: a new model invalidates finished shards."""
    h = hashlib.sha256()
    with open(Path(model_dir) / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def kept_table(table: pa.Table, scores: np.ndarray, threshold: float) -> pa.Table:
    """The FineWeb2 fields of the kept documents, in input order, with their score."""
    mask = keep_mask(scores, threshold)
    out = table.select(FINEWEB2_FIELDS).filter(pa.array(mask))
    out = out.append_column("score", pa.array(np.asarray(scores, dtype=np.float32)[mask], type=pa.float32()))
    return out.cast(OUTPUT_SCHEMA)


def _shard_record(path: Path) -> dict | None:
    try:
        meta = pq.read_metadata(path).metadata or {}  # the file's key-value metadata (the rolling writer's)
    except (pa.ArrowInvalid, OSError):
        return None  # unreadable output: redo it
    raw = meta.get(META_KEY)
    return json.loads(raw) if raw else None


def filter_shard(src: Path, out_dir: Path, scorer, threshold: float, fingerprint: str, write_scores: bool = True,
                 doc_batch: int = 4096) -> dict:
    """Score one shard and write its kept documents, `doc_batch` rows at a time; returns the shard's counts."""
    t0 = time.perf_counter()
    read_shard(src, ["id"])  # a corrupt file or a wrong schema: an error naming it, before any output
    batches = (pa.Table.from_batches([b]) for b in pq.ParquetFile(src).iter_batches(batch_size=doc_batch,
                                                                                     columns=FINEWEB2_FIELDS))
    return filter_stream(batches, src.name, src, out_dir, scorer, threshold, fingerprint, write_scores, t0)


def filter_table(table: pa.Table, name: str, src, out_dir: Path, scorer, threshold: float, fingerprint: str,
                 write_scores: bool = True, t0: float | None = None) -> dict:
    """`filter_stream` of one in-memory table."""
    return filter_stream([table], name, src, out_dir, scorer, threshold, fingerprint, write_scores, t0)


def filter_stream(tables, name: str, src, out_dir: Path, scorer, threshold: float, fingerprint: str,
                  write_scores: bool = True, t0: float | None = None) -> dict:
    """Score a stream of FineWeb2 tables (one input file, chunk by chunk) and write `shards/<name>` and
    `scores/` with rolling parquet writers: each chunk's kept rows and scores are written before the
    next chunk is read, so memory holds one chunk whatever the file size. Both engines end here. The
    record (threshold, model, counts) goes into the shard's file metadata when it closes; the shard is
    renamed into place last, so its existence marks the input done."""
    from contextlib import ExitStack

    t0 = time.perf_counter() if t0 is None else t0
    c = {"n_docs": 0, "n_kept": 0, "n_blank": 0, "words": 0, "words_kept": 0}
    shard_path = out_dir / "shards" / name
    with ExitStack() as stack:
        tmp_shard = stack.enter_context(io.atomic_path(shard_path, suffix=".parquet"))
        shard_w = stack.enter_context(pq.ParquetWriter(tmp_shard, OUTPUT_SCHEMA, compression="zstd"))
        scores_w = None
        if write_scores:  # entered after the shard: renamed into place before it
            tmp_scores = stack.enter_context(io.atomic_path(out_dir / "scores" / name.replace("shard-", "scores-"),
                                                            suffix=".parquet"))
            scores_w = stack.enter_context(pq.ParquetWriter(tmp_scores, SCORES_SCHEMA, compression="zstd"))
        for table in tables:
            texts = table.column("text")
            if texts.null_count:
                raise DefinemedError(f"{src}: {texts.null_count} document(s) with a null text")
            text_list = texts.to_pylist()
            scores = scorer.score(text_list)
            kept = kept_table(table, scores, threshold)
            shard_w.write_table(kept)
            if scores_w is not None:
                scores_w.write_table(pa.table({"id": table.column("id"), "score": pa.array(scores, type=pa.float32())},
                                              schema=SCORES_SCHEMA))
            c["n_docs"] += table.num_rows
            c["n_kept"] += kept.num_rows
            c["n_blank"] += sum(map(is_blank, text_list))  # scored 0 without the model
            c["words"] += count_words(texts)
            c["words_kept"] += count_words(kept.column("text"))
            del text_list, kept, table, texts
        stats = {"shard": name, **c, "seconds": round(time.perf_counter() - t0, 3)}
        record = {"threshold": float(threshold), "model": fingerprint, "source": Path(str(src)).name, **stats}
        shard_w.add_key_value_metadata({META_KEY: json.dumps(record).encode()})
    return stats


STAT_KEYS = ("shard", "n_docs", "n_kept", "n_blank", "words", "words_kept", "seconds")


def finished_record(dest: Path, threshold: float, fingerprint: str) -> dict | None:
    """The counts of a finished output shard made with this threshold and model, else None."""
    rec = _shard_record(dest) if dest.exists() else None
    if rec and rec.get("threshold") == threshold and rec.get("model") == fingerprint:
        return {k: rec.get(k, 0) for k in STAT_KEYS}
    return None


def write_filter_stats(out_dir: Path, per_shard: list[dict], n_sources: int, skipped: int, threshold: float,
                       fingerprint: str, seconds: float) -> dict:
    """filter_stats.json (totals and per-shard counts), the same for both engines; returns the totals."""
    totals = {k: int(sum(s.get(k, 0) for s in per_shard)) for k in ("n_docs", "n_kept", "n_blank", "words", "words_kept")}
    totals.update(n_shards=n_sources, n_shards_skipped=skipped, threshold=threshold, model=fingerprint,
                  seconds=round(seconds, 2), scored_seconds=round(sum(s["seconds"] for s in per_shard), 2))
    io.write_json(out_dir / "filter_stats.json", {**totals, "shards": per_shard})
    return totals


def filter_corpus(cfg: Config, corpus_dir: Path | None = None, out_dir: Path | None = None,
                  model_dir: Path | None = None, scorer=None, threshold: float | None = None) -> dict:
    """Filter every shard of the corpus (skipping finished ones); returns totals and per-shard counts."""
    threshold = check_threshold(cfg.classifier.threshold if threshold is None else threshold, "classifier.threshold")
    if cfg.filter.engine == "datatrove" and scorer is None and corpus_dir is None:
        from definemed.filtering.datatrove_step import run_datatrove

        totals = run_datatrove(cfg, out_dir=out_dir, model_dir=model_dir, threshold=threshold)
        if "submitted" in totals:  # a Slurm array is running: the stage is not done (no record is written)
            raise DefinemedError(f"{artifacts.FILTER}: submitted {totals['submitted']} Slurm tasks for {totals['n_shards']} "
                                 f"input files; run the stage again when they finished (logs: {totals['logging_dir']})")
        return totals
    corpus_dir = Path(corpus_dir) if corpus_dir else artifacts.stage_dir(cfg, artifacts.CORPUS)
    out_dir = Path(out_dir) if out_dir else artifacts.stage_dir(cfg, artifacts.FILTER)
    model_dir = Path(model_dir) if model_dir else artifacts.classifier_model(cfg)
    sources = shard_paths(corpus_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise DefinemedError(f"{model_dir}: no model.safetensors (run stage 02_classifier first)")
    fingerprint = model_fingerprint(model_dir)
    t0 = time.perf_counter()
    per_shard, skipped = [], 0
    for src in tqdm(sources, desc="filter shards", unit="shard"):
        rec = finished_record(out_dir / "shards" / src.name, threshold, fingerprint)
        if rec:
            per_shard.append(rec)
            skipped += 1
            continue
        if scorer is None:
            from definemed.classifier.inference import Scorer

            f = cfg.filter
            scorer = Scorer(model_dir, batch_size=f.batch_size, max_length=f.max_length or cfg.classifier.max_length,
                            bf16=f.bf16, prefetch_batches=f.prefetch_batches, torch_threads=cfg.classifier.torch_threads)
        per_shard.append(filter_shard(src, out_dir, scorer, threshold, fingerprint, cfg.filter.write_scores,
                                      cfg.filter.doc_batch))
    return write_filter_stats(out_dir, per_shard, len(sources), skipped, threshold, fingerprint,
                              time.perf_counter() - t0)


def read_filtered(out_dir: Path) -> pa.Table:
    files = sorted((Path(out_dir) / "shards").glob("shard-*.parquet"))
    if not files:
        raise DefinemedError(f"{out_dir}/shards: no filtered shards")
    return pa.concat_tables([pq.read_table(f) for f in files])


def read_scores(out_dir: Path) -> pa.Table:
    files = sorted((Path(out_dir) / "scores").glob("scores-*.parquet"))
    if not files:
        raise DefinemedError(f"{out_dir}/scores: no score files (filter.write_scores is off?)")
    return pa.concat_tables([pq.read_table(f) for f in files])


def score_histogram(out_dir: Path, bins: int = 50) -> "pd.DataFrame":
    """Counts of P(medical) in `bins` equal bins of [0, 1], aggregated file by file from `scores/`
    (only the score column of one file in memory: 427.7M scores are never loaded at once).
    Columns: lo, hi, docs."""
    import pandas as pd

    files = sorted((Path(out_dir) / "scores").glob("scores-*.parquet"))
    if not files:
        raise DefinemedError(f"{out_dir}/scores: no score files (filter.write_scores is off?)")
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.zeros(bins, np.int64)
    for f in files:
        s = pq.read_table(f, columns=["score"]).column("score").to_numpy()
        counts += np.histogram(np.clip(s, 0.0, 1.0), bins=edges)[0]
    return pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "docs": counts})
