"""Stage 00 of the paper profile without a local copy of FineWeb2-de: draw the labeling pool and the
held-out general set by streaming the parquet files once, keeping only what later stages read.

    python -m definemed corpus --profile paper          # corpus.source: hub, corpus.sample_docs set

One reader for every source: `list_parquet(url)` / `iter_parquet(url, path)` go through fsspec, so
`hf://datasets/HuggingFaceFW/fineweb-2@<commit>/data/deu_Latn/train` (huggingface_hub's HfFileSystem)
and a local folder of FineWeb2-schema parquet files (the test's stand-in for the hub) run the same code.

Selection is hash-based, so it does not depend on file order, worker count or interruptions:
every document gets the priority `blake2b(id, key=seed)` (a uint64). The selected documents are the
`sample_docs + heldout_general_docs` lowest priorities of the whole corpus (a bottom-k sample: a seeded
uniform sample without replacement); the lowest `sample_docs` of them are the labeling pool
(`shards/`), the next `heldout_general_docs` the held-out general candidates (`heldout_general/`),
which stage 04 thins to documents outside FineMed-de.

Two phases, both resumable:
1. scan: each input file is read in record batches (the columns of one batch in memory) and its
   documents below a priority cut are written to `_stream/parts/part-XXXXX.parquet` (atomic; an
   existing part of the same plan is final). The cut is set from the row count in the parquet footers
   so that the expected number of candidates is k + 6 sqrt(k) + 100 (about 1.02 k for the paper's k);
   fewer than k candidates is an error (probability below 1e-9), never a silent smaller sample.
2. merge: the priorities of all candidates (8 bytes each) are ranked, and the selected rows are
   written part by part (input order) into the output shards; then `_stream/` is deleted.

Disk: the parts (about 1.02 k documents) and the output shards (k documents), so at most about twice
the sample, against 1.5 TB for a full copy; `stream_stats.json` records the bytes written.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from definemed import io
from definemed.corpus.loader import _check_fields, _normalise
from definemed.corpus.schema import FINEWEB2_FIELDS, FINEWEB2_SCHEMA
from definemed.errors import DefinemedError

PART_SCHEMA = FINEWEB2_SCHEMA.append(pa.field("priority", pa.uint64()))
HELDOUT_DIR = "heldout_general"
UNPINNED = ("main", "", None)


def hub_url(dataset: str, revision: str, config: str, split: str) -> str:
    """fsspec URL of one FineWeb2 language/split folder at a revision (HfFileSystem syntax)."""
    rev = revision.replace("/", "%2F")  # refs/convert/parquet -> refs%2Fconvert%2Fparquet
    return f"hf://datasets/{dataset}@{rev}/data/{config}/{split}"


def stream_source_url(cfg) -> str:
    """What the sampler reads: corpus.stream_url, the local folder, or FineWeb2 at a pinned revision."""
    from definemed import paths
    from definemed.pins import require_pinned

    c = cfg.corpus
    if c.stream_url:
        return c.stream_url
    if c.source == "local":
        if not c.local_path:
            raise DefinemedError("corpus.local_path: required when corpus.source is 'local'")
        p = Path(c.local_path)
        return str(p if p.is_absolute() else paths.ROOT / p)
    require_pinned("corpus.hf_revision", c.hf_dataset, c.hf_revision, cfg.allow_unpinned)
    return hub_url(c.hf_dataset, c.hf_revision, c.hf_config, c.hf_split)


def _fs(url: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return fs, root


def list_parquet(url: str, glob: str = "*.parquet") -> list[tuple[str, int]]:
    """(path, rows) of every parquet file below `url`, sorted by path; rows from the footers only."""
    fs, root = _fs(url)
    try:
        files = sorted(fs.glob(f"{root.rstrip('/')}/**/{glob}"))
    except (OSError, ValueError) as e:
        raise DefinemedError(f"{url}: cannot list files ({type(e).__name__}: {e})") from None
    if not files:
        raise DefinemedError(f"{url}: no files matching {glob}")
    out = []
    for f in files:
        try:
            with fs.open(f, "rb") as fh:
                pf = pq.ParquetFile(fh)
                _check_fields(pf.schema_arrow.names, f)
                out.append((f, pf.metadata.num_rows))
        except (pa.ArrowInvalid, OSError) as e:
            raise DefinemedError(f"{f}: unreadable parquet file ({e})") from None
    return out


def iter_parquet(url: str, path: str, columns: list[str] | None = None, batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
    """Record batches of one parquet file of `url`'s filesystem (only `batch_size` rows in memory)."""
    fs, _ = _fs(url)
    try:
        with fs.open(path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            _check_fields(pf.schema_arrow.names, path)
            yield from pf.iter_batches(batch_size=batch_size, columns=columns or FINEWEB2_FIELDS)
    except (pa.ArrowInvalid, OSError) as e:
        raise DefinemedError(f"{path}: unreadable parquet file ({e})") from None


def priorities(ids: list[str], seed: int) -> np.ndarray:
    """uint64 priority of each document id: blake2b keyed by the seed (order- and split-independent)."""
    key = str(int(seed)).encode()
    return np.fromiter((int.from_bytes(hashlib.blake2b(i.encode(), key=key, digest_size=8).digest(), "little")
                        for i in ids), dtype=np.uint64, count=len(ids))


def priority_cut(k: int, n_total: int) -> int:
    """Priority bound so that about k + 6 sqrt(k) + 100 of n_total documents fall below it."""
    want = k + 6 * math.sqrt(k) + 100
    if want >= n_total:
        return 2**64 - 1
    return int(want / n_total * 2**64)


def _batch_table(batch: pa.RecordBatch) -> pa.Table:
    t = pa.Table.from_batches([batch])
    if t.schema.field("top_langs").type != pa.string():  # normalise like the record path does
        t = pa.Table.from_pylist([_normalise(r) for r in t.to_pylist()])
    return t.select(FINEWEB2_FIELDS).cast(FINEWEB2_SCHEMA)


def scan_file(url: str, path: str, part: Path, seed: int, cut: int, batch_size: int = 8192) -> dict:
    """Write the documents of one input file whose priority is below `cut` to `part` (atomic)."""
    t0 = time.perf_counter()
    kept, n = [], 0
    for batch in iter_parquet(url, path, batch_size=batch_size):
        n += batch.num_rows
        pr = priorities(batch.column("id").to_pylist(), seed)
        mask = pr < np.uint64(cut)
        if mask.any():
            t = _batch_table(batch).filter(pa.array(mask))
            kept.append(t.append_column("priority", pa.array(pr[mask], pa.uint64())))
    table = pa.concat_tables(kept) if kept else PART_SCHEMA.empty_table()
    with io.atomic_path(part, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return {"file": path, "rows": n, "candidates": table.num_rows, "seconds": round(time.perf_counter() - t0, 3)}


def _scan_job(args) -> dict:
    return scan_file(*args)


def _write_shards(tables: Iterator[pa.Table], out: Path, shard_size: int) -> int:
    buf, rows, shard = [], 0, 0
    def flush(t: pa.Table) -> None:
        nonlocal shard
        with io.atomic_path(out / f"shard-{shard:05d}.parquet", suffix=".parquet") as tmp:
            pq.write_table(t, tmp, compression="zstd")
        shard += 1

    for t in tables:
        buf.append(t)
        rows += t.num_rows
        while rows >= shard_size:
            whole = pa.concat_tables(buf)
            flush(whole.slice(0, shard_size))
            rest = whole.slice(shard_size)
            buf, rows = [rest], rest.num_rows
    if rows:
        flush(pa.concat_tables(buf))
    return shard


def _dir_bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) if d.exists() else 0


def sample_corpus(url: str, out: Path, seed: int, sample_docs: int, heldout_docs: int, shard_size: int,
                  workers: int = 1, glob: str = "*.parquet", batch_size: int = 8192) -> dict:
    """Draw the labeling pool (`out/shards/`) and held-out general candidates (`out/heldout_general/`)
    from the parquet files below `url` by streaming; resumable; returns counts and bytes written."""
    t0 = time.perf_counter()
    out = Path(out)
    k = sample_docs + heldout_docs
    if sample_docs < 1:
        raise DefinemedError("corpus.sample_docs: must be at least 1")
    files = list_parquet(url, glob)
    n_total = sum(r for _, r in files)
    if k > n_total:
        raise DefinemedError(f"corpus.sample_docs + corpus.heldout_general_docs: {k} is more than the "
                             f"{n_total} documents at {url}")
    cut = priority_cut(k, n_total)
    work = out / "_stream"
    plan = {"url": url, "glob": glob, "files": files, "seed": seed, "cut": str(cut), "k": k}
    plan = json.loads(json.dumps(plan))  # tuples -> lists, as read back
    plan_file = work / "plan.json"
    if plan_file.is_file() and io.read_json(plan_file) != plan:
        shutil.rmtree(work)  # other inputs or seed: earlier parts are not reusable
    io.write_json(plan_file, plan)
    parts = [work / "parts" / f"part-{i:05d}.parquet" for i in range(len(files))]
    jobs = [(url, f, p, seed, cut, batch_size) for (f, _), p in zip(files, parts) if not p.is_file()]
    scanned = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as ex:
            scanned = list(ex.map(_scan_job, jobs))
    else:
        scanned = [_scan_job(j) for j in jobs]
    part_bytes = _dir_bytes(work / "parts")
    # merge: rank the candidates' priorities (8 bytes each), then copy the selected rows part by part
    pr = [pq.read_table(p, columns=["priority"]).column("priority").to_numpy() for p in parts]
    allp = np.concatenate(pr) if pr else np.zeros(0, np.uint64)
    if len(allp) < k:
        raise DefinemedError(f"{url}: only {len(allp)} candidates below the priority cut for {k} documents "
                             f"(delete {work} and rerun; this happens with probability < 1e-9)")
    order = np.argsort(allp, kind="stable")
    rank = np.empty(len(allp), np.int64)
    rank[order] = np.arange(len(allp))
    bounds = np.cumsum([0] + [len(x) for x in pr])

    def selected(lo: int, hi: int) -> Iterator[pa.Table]:
        for i, p in enumerate(parts):
            r = rank[bounds[i]:bounds[i + 1]]
            mask = (r >= lo) & (r < hi)
            if mask.any():
                yield pq.read_table(p).filter(pa.array(mask)).select(FINEWEB2_FIELDS)

    for sub in ("shards", HELDOUT_DIR):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    n_shards = _write_shards(selected(0, sample_docs), out / "shards", shard_size)
    n_held = _write_shards(selected(sample_docs, k), out / HELDOUT_DIR, shard_size) if heldout_docs else 0
    written = part_bytes + _dir_bytes(out / "shards") + _dir_bytes(out / HELDOUT_DIR)
    shutil.rmtree(work)
    return {"source_url": url, "n_files": len(files), "n_source_docs": n_total, "n_docs": sample_docs,
            "n_heldout_general_docs": heldout_docs, "n_candidates": int(len(allp)), "n_shards": n_shards,
            "n_heldout_shards": n_held, "n_files_scanned_now": len(scanned), "bytes_written": int(written),
            "bytes_parts": int(part_bytes), "seconds": round(time.perf_counter() - t0, 2)}


# ---- stage 04: the held-out general set without loading the corpus -------------------------------
def sample_general(files: list[Path], exclude: set[str], n: int, seed_rng):
    """`n` documents (id, text) of `files` whose id is not in `exclude`, in the order of a seeded
    permutation of the remaining rows (`seed_rng.permutation`). Two passes: ids only, then the texts
    of the chosen rows; the result equals permuting one DataFrame of all rows (what it replaces)."""
    import pandas as pd

    if not files:
        raise DefinemedError("no corpus shards for general held-out text")
    keep_pos = []
    for f in files:
        ids = pq.read_table(f, columns=["id"]).column("id")
        mask = pc.invert(pc.is_in(ids, value_set=pa.array(list(exclude), pa.string()))) if exclude else None
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False)) if mask is not None else np.arange(len(ids))
        keep_pos.append(rows)
    counts = np.array([len(r) for r in keep_pos])
    starts = np.concatenate([[0], np.cumsum(counts)])
    take = seed_rng.permutation(int(starts[-1]))[:n]
    file_of = np.searchsorted(starts, take, side="right") - 1
    parts = {}
    for fi in np.unique(file_of):
        sel = take[file_of == fi] - starts[fi]
        rows = keep_pos[fi][sel]
        t = pq.read_table(files[fi], columns=["id", "text"]).take(pa.array(np.sort(rows)))
        parts[int(fi)] = dict(zip(np.sort(rows).tolist(), zip(t.column("id").to_pylist(), t.column("text").to_pylist())))
    recs = [parts[int(fi)][int(keep_pos[fi][t - starts[fi]])] for fi, t in zip(file_of, take)]
    return pd.DataFrame(recs, columns=["id", "text"])


def general_pool_files(cfg) -> list[Path]:
    """Where stage 04 draws general text: 00_corpus/heldout_general/ if stage 00 streamed one, else
    the corpus shards (tiny profile)."""
    from definemed import artifacts

    for d in (artifacts.corpus_heldout_general(cfg), artifacts.corpus_shards(cfg)):
        files = sorted(d.glob("shard-*.parquet"))
        if files:
            return files
    raise DefinemedError(f"{artifacts.corpus_shards(cfg)}: no corpus shards for general held-out text")
