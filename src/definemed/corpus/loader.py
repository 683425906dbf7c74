"""Reading corpora: our own shards, FineWeb2 from the Hugging Face hub (streaming), or a local
folder of parquet / jsonl files in FineWeb2's schema. Every path ends in the same parquet shards."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from definemed.corpus.schema import FINEWEB2_FIELDS, FINEWEB2_SCHEMA
from definemed.errors import DefinemedError


def _check_fields(names: Iterable[str], file: Path | str) -> None:
    missing = [f for f in FINEWEB2_FIELDS if f not in set(names)]
    if missing:
        raise DefinemedError(f"{file}: missing FineWeb2 field(s): {', '.join(missing)}")


def _check_text(rec: dict, where: str) -> None:
    text = rec.get("text")
    if not isinstance(text, str):
        what = "null" if text is None else f"{type(text).__name__}, not a string"
        raise DefinemedError(f"{where}: field 'text' is {what}")


def _normalise(rec: dict) -> dict:
    out = {k: rec.get(k) for k in FINEWEB2_FIELDS}
    if not isinstance(out["top_langs"], str) and out["top_langs"] is not None:
        out["top_langs"] = json.dumps(out["top_langs"])  # the hub serves it as a JSON string already
    return out


def is_blank(text: str | None) -> bool:
    """A document with no letter or digit ("", whitespace, a lone ":"): it carries no topic, so no
    model sees it; labelling marks it empty, scoring gives it P(medical) 0, training drops it."""
    return not text or not any(ch.isalnum() for ch in text)


def corpus_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DefinemedError(f"{folder}: corpus folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".parquet", ".jsonl") and not p.name.startswith("."))
    if not files:
        raise DefinemedError(f"{folder}: no .parquet or .jsonl files in corpus folder")
    return files


def iter_local(folder: str | Path, batch_size: int = 2048) -> Iterator[list[dict]]:
    """Batches of FineWeb2 records from every parquet / jsonl file below `folder`."""
    for f in corpus_files(folder):
        if f.suffix == ".parquet":
            try:
                pf = pq.ParquetFile(f)
            except (pa.ArrowInvalid, OSError) as e:
                raise DefinemedError(f"{f}: unreadable parquet file ({e})") from None
            _check_fields(pf.schema_arrow.names, f)
            text_type = pf.schema_arrow.field("text").type
            if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
                raise DefinemedError(f"{f}: field 'text' has type {text_type}, not string")
            row = 0
            try:
                for batch in pf.iter_batches(batch_size=batch_size, columns=FINEWEB2_FIELDS):
                    recs = batch.to_pylist()
                    for k, r in enumerate(recs):
                        _check_text(r, f"{f}: row {row + k}")
                    row += len(recs)
                    yield [_normalise(r) for r in recs]
            except (pa.ArrowInvalid, OSError) as e:
                raise DefinemedError(f"{f}: unreadable parquet file ({e})") from None
        else:
            batch = []
            with f.open("rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise DefinemedError(f"{f}:{lineno}: not UTF-8 text (byte {e.start} of the line)") from None
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        raise DefinemedError(f"{f}:{lineno}: malformed JSON line") from None
                    if not isinstance(rec, dict):
                        raise DefinemedError(f"{f}:{lineno}: expected a JSON object per line")
                    _check_fields(rec.keys(), f"{f}:{lineno}")
                    _check_text(rec, f"{f}:{lineno}")
                    batch.append(_normalise(rec))
                    if len(batch) == batch_size:
                        yield batch
                        batch = []
            if batch:
                yield batch


def iter_hub(dataset: str, config: str, split: str = "train", batch_size: int = 2048) -> Iterator[list[dict]]:
    """Stream FineWeb2 (`HuggingFaceFW/fineweb-2`, config `deu_Latn`) from the hub (paper profile)."""
    from datasets import load_dataset

    batch = []
    try:
        ds = load_dataset(dataset, name=config, split=split, streaming=True)
        for rec in ds:
            batch.append(_normalise(rec))
            if len(batch) == batch_size:
                yield batch
                batch = []
    except OSError as e:  # ConnectionError, HTTP errors, a dataset or config that does not exist
        what = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DefinemedError(f"corpus.hf_dataset: cannot read {dataset} ({config}, {split}) from the Hugging Face "
                             f"hub: {what}; check the network (or HF_ENDPOINT), or download it and use "
                             "corpus.source: local") from None
    if batch:
        yield batch


def read_shard(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """One corpus shard; a corrupt file or a wrong schema is an error naming the file."""
    path = Path(path)
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise DefinemedError(f"{path}: unreadable parquet shard ({e})") from None
    _check_fields(table.schema.names if columns is None else FINEWEB2_FIELDS, path)
    return table


def shard_rows(path: str | Path) -> int:
    """Rows of one shard from its footer; a truncated or corrupt file is an error naming it."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowInvalid, OSError) as e:
        raise DefinemedError(f"{path}: unreadable parquet shard ({e}); remove it and rerun stage 00_corpus") from None


def shard_paths(corpus_dir: str | Path) -> list[Path]:
    d = Path(corpus_dir) / "shards"
    files = sorted(d.glob("shard-*.parquet"))
    if not files:
        raise DefinemedError(f"{d}: no corpus shards (run `python -m definemed corpus` or stage 00_corpus)")
    return files


def iter_documents(corpus_dir: str | Path, columns: list[str] | None = None) -> Iterator[dict]:
    for p in shard_paths(corpus_dir):
        yield from read_shard(p, columns).to_pylist()


def table_from_records(records: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=FINEWEB2_SCHEMA)
