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
1. scan: each input file is read ids first (the `id` column of one row group at a time, hashed);
   only row groups that hold a document below the priority cut are read in full, and those documents
   are written as they are found to `_stream/parts/part-XXXXX.parquet` (atomic; an existing part of
   the same plan is final). Memory: one row group, whatever the file size. Bytes read: the id column
   plus the row groups with a candidate (`bytes_read_now` in the stats; with FineWeb2's large row
   groups almost every row group holds one of the 0.065 %, so the saving is bounded by the row-group
   size, and reading a staged local copy (`stage-fineweb`) is what saves the network).
   A network error retries the file (`with_retry`, 3 attempts with backoff), then ends in one line. The cut is set from the row count in the parquet footers
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


STAGED_MANIFEST = "staged_files.json"


def hub_source_url(cfg) -> str:
    """FineWeb2's language/split folder on the hub at the pinned `corpus.hf_revision` (what `stage-fineweb`
    downloads, and what stage 00 reads when nothing is staged)."""
    from definemed.pins import require_pinned

    c = cfg.corpus
    require_pinned("corpus.hf_revision", c.hf_dataset, c.hf_revision, cfg.allow_unpinned)
    return hub_url(c.hf_dataset, c.hf_revision, c.hf_config, c.hf_split)


def staged_folder(cfg) -> Path | None:
    """`corpus.staged_folder` as an absolute path (None when not set)."""
    from definemed import paths

    f = cfg.corpus.staged_folder
    if not f:
        return None
    return Path(f) if Path(f).is_absolute() else paths.ROOT / f


def staged_files(folder: Path) -> list[tuple[str, int]]:
    """(path, rows) of a finished staging (its manifest); an unfinished one is an error."""
    m = Path(folder) / STAGED_MANIFEST
    if not m.is_file():
        raise DefinemedError(f"corpus.staged_folder: {folder} has no {STAGED_MANIFEST}: staging is not finished "
                             "(run `python -m definemed stage-fineweb` on a node with network; it resumes)")
    rec = io.read_json(m)
    return [(str(Path(folder) / r["path"]), int(r["rows"])) for r in rec["files"]]


def stage_files(url: str, folder: Path, glob: str = "*.parquet", workers: int = 8) -> dict:
    """Copy every parquet file below `url` (FineWeb2 on the hub) into `folder`, keeping the relative
    paths; resumable: a file already there with the source's size is final (each copy goes through a
    temporary name), so a rerun after a failure copies only what is missing. Writes
    `folder/staged_files.json` (path, rows, bytes per file) last: its presence marks the staging done."""
    from concurrent.futures import ThreadPoolExecutor

    from definemed.progress import tqdm

    t0 = time.perf_counter()
    folder = Path(folder)
    fs, root = with_retry(lambda: _fs(url), url)
    root = root.rstrip("/")
    files = with_retry(lambda: sorted(fs.glob(f"{root}/**/{glob}")), f"{url}: listing")
    if not files:
        raise DefinemedError(f"{url}: no files matching {glob}")
    sizes = with_retry(lambda: {f: int(fs.info(f)["size"]) for f in files}, f"{url}: file sizes")

    def rel(f: str) -> str:
        return f[len(root) + 1:] if f.startswith(root + "/") else Path(f).name

    def copy(f: str) -> int:
        dest = folder / rel(f)
        if dest.is_file() and dest.stat().st_size == sizes[f]:
            return 0
        dest.parent.mkdir(parents=True, exist_ok=True)

        def get():
            with io.atomic_path(dest, suffix=".parquet") as tmp:
                fs.get_file(f, str(tmp))
                if Path(tmp).stat().st_size != sizes[f]:
                    raise OSError(f"{f}: copied {Path(tmp).stat().st_size} of {sizes[f]} bytes")
            return sizes[f]

        return with_retry(get, f)

    with ThreadPoolExecutor(max(1, workers)) as ex:
        copied = list(tqdm(ex.map(copy, files), total=len(files), desc="stage files", unit="file"))
    recs = []
    for f in files:
        dest = folder / rel(f)
        pf = pq.ParquetFile(dest)
        _check_fields(pf.schema_arrow.names, dest)
        recs.append({"path": rel(f), "rows": pf.metadata.num_rows, "bytes": dest.stat().st_size})
    io.write_json(folder / STAGED_MANIFEST, {"source": url, "glob": glob, "files": recs})
    return {"source": url, "folder": str(folder), "n_files": len(files), "n_copied_now": sum(1 for c in copied if c),
            "bytes_copied_now": int(sum(copied)), "bytes_total": int(sum(r["bytes"] for r in recs)),
            "rows_total": int(sum(r["rows"] for r in recs)), "seconds": round(time.perf_counter() - t0, 2)}


def stream_source_url(cfg) -> str:
    """What the sampler reads: corpus.stream_url, the staged folder (`stage-fineweb`), the local folder,
    or FineWeb2 on the hub at a pinned revision."""
    from definemed import paths

    c = cfg.corpus
    if c.stream_url:
        return c.stream_url
    if c.staged_folder and c.source == "hub":
        folder = staged_folder(cfg)
        staged_files(folder)  # finished?
        return str(folder)
    if c.source == "local":
        if not c.local_path:
            raise DefinemedError("corpus.local_path: required when corpus.source is 'local'")
        p = Path(c.local_path)
        return str(p if p.is_absolute() else paths.ROOT / p)
    return hub_source_url(cfg)


def _fs(url: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return fs, root


RETRIES = 3
"""Attempts of one hub / network read (listing, a footer, a file scan) before it becomes one error line."""
BACKOFF_S = 2.0
"""Seconds before the second attempt; doubled for each further one."""


def with_retry(fn, what: str):
    """`fn()`, retried on network errors (OSError, httpx errors) `RETRIES` times with backoff; then one
    DefinemedError naming `what`. A missing file or a DefinemedError is not retried."""
    import logging

    from definemed.errors import network_error_types

    last = None
    for attempt in range(RETRIES):
        try:
            return fn()
        except DefinemedError:
            raise
        except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
            raise DefinemedError(f"{what}: {type(e).__name__}: {e}") from None
        except network_error_types() as e:
            last = e
            if attempt + 1 < RETRIES:
                logging.getLogger(__name__).warning("%s: %s, retrying (%d/%d)", what, type(e).__name__, attempt + 1, RETRIES)
                time.sleep(BACKOFF_S * 2**attempt)
    msg = str(last).splitlines()[0][:200] if str(last) else ""
    raise DefinemedError(f"{what}: could not read after {RETRIES} attempts ({type(last).__name__}: {msg}); check the "
                         "network (or HF_ENDPOINT), or stage the files first (python -m definemed stage-fineweb) and "
                         "read that folder") from None


def list_parquet(url: str, glob: str = "*.parquet") -> list[tuple[str, int]]:
    """(path, rows) of every parquet file below `url`, sorted by path; rows from the footers only."""
    fs, root = with_retry(lambda: _fs(url), url)

    def ls():
        try:
            return sorted(fs.glob(f"{root.rstrip('/')}/**/{glob}"))
        except ValueError as e:
            raise DefinemedError(f"{url}: cannot list files ({type(e).__name__}: {e})") from None

    files = with_retry(ls, f"{url}: listing")
    if not files:
        raise DefinemedError(f"{url}: no files matching {glob}")
    return [(f, with_retry(lambda f=f: _footer_rows(fs, f), f)) for f in files]


def _footer_rows(fs, f: str) -> int:
    try:
        with fs.open(f, "rb") as fh:
            pf = pq.ParquetFile(fh)
            _check_fields(pf.schema_arrow.names, f)
            return pf.metadata.num_rows
    except pa.ArrowInvalid as e:
        raise DefinemedError(f"{f}: unreadable parquet file ({e})") from None


def iter_parquet(url: str, path: str, columns: list[str] | None = None, batch_size: int = 8192) -> Iterator[pa.RecordBatch]:
    """Record batches of one parquet file of `url`'s filesystem (only `batch_size` rows in memory)."""
    fs, _ = _fs(url)
    try:
        with fs.open(path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            _check_fields(pf.schema_arrow.names, path)
            yield from pf.iter_batches(batch_size=batch_size, columns=columns or FINEWEB2_FIELDS)
    except pa.ArrowInvalid as e:
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
    return _batch_table_of(pa.Table.from_batches([batch]))


def scan_file(url: str, path: str, part: Path, seed: int, cut: int, batch_size: int = 8192) -> dict:
    """Write the documents of one input file whose priority is below `cut` to `part` (atomic).

    Ids first: per row group only the `id` column is read and hashed; the other columns are read
    only for row groups holding a candidate, and their candidates go straight to the part file. So
    memory holds one row group at a time, never the file; `bytes_read` counts the compressed column
    chunks read (a network read retried as a whole file, `with_retry`)."""
    return with_retry(lambda: _scan_file(url, path, part, seed, cut), path)


def _scan_file(url: str, path: str, part: Path, seed: int, cut: int) -> dict:
    t0 = time.perf_counter()
    fs, _ = _fs(url)
    n = kept = groups_read = 0
    bytes_read = 0
    try:
        with fs.open(path, "rb") as fh, io.atomic_path(part, suffix=".parquet") as tmp:
            pf = pq.ParquetFile(fh)
            _check_fields(pf.schema_arrow.names, path)
            names = pf.schema_arrow.names
            col = {c: names.index(c) for c in FINEWEB2_FIELDS}
            with pq.ParquetWriter(tmp, PART_SCHEMA, compression="zstd") as w:
                for rg in range(pf.num_row_groups):
                    meta = pf.metadata.row_group(rg)
                    ids = pf.read_row_group(rg, columns=["id"]).column("id")
                    bytes_read += meta.column(col["id"]).total_compressed_size
                    n += len(ids)
                    pr = priorities(ids.to_pylist(), seed)
                    mask = pr < np.uint64(cut)
                    if not mask.any():
                        continue
                    rest = [c for c in FINEWEB2_FIELDS if c != "id"]
                    t = pf.read_row_group(rg, columns=rest)
                    bytes_read += sum(meta.column(col[c]).total_compressed_size for c in rest)
                    groups_read += 1
                    t = t.append_column("id", ids)
                    t = _batch_table_of(t).filter(pa.array(mask))
                    w.write_table(t.append_column("priority", pa.array(pr[mask], pa.uint64())))
                    kept += t.num_rows
                    del t
    except pa.ArrowInvalid as e:
        raise DefinemedError(f"{path}: unreadable parquet file ({e})") from None
    return {"file": path, "rows": n, "candidates": kept, "row_groups": pf.metadata.num_row_groups,
            "row_groups_read": groups_read, "bytes_read": int(bytes_read), "seconds": round(time.perf_counter() - t0, 3)}


def _batch_table_of(t: pa.Table) -> pa.Table:
    if t.schema.field("top_langs").type != pa.string():  # normalise like the record path does
        t = pa.Table.from_pylist([_normalise(r) for r in t.select(FINEWEB2_FIELDS).to_pylist()])
    return t.select(FINEWEB2_FIELDS).cast(FINEWEB2_SCHEMA)


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
            "bytes_read_now": int(sum(x["bytes_read"] for x in scanned)),
            "row_groups_read_now": int(sum(x["row_groups_read"] for x in scanned)),
            "row_groups_now": int(sum(x["row_groups"] for x in scanned)),
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
