"""A hand-made corpus in FineWeb2's schema, written where the `test` profile's stage 00 would be."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from definemed.corpus.schema import EXPERT_SCHEMA, FINEWEB2_SCHEMA

MARKERS = ["", "", "", "#slow", "#e500", "#badjson", "#chatty", "#nolabel"]


def record(i: int, text: str) -> dict:
    return {"text": text, "id": f"<urn:test:{i:05d}>", "dump": "TEST", "url": f"https://example.de/{i}",
            "date": "2024-01-01", "file_path": "test", "language": "deu", "language_score": 0.99,
            "language_script": "Latn", "minhash_cluster_size": 1, "top_langs": "{}"}


def doc_text(i: int, medical: bool, marker: str = "") -> str:
    body = ("Die Patientin ist krank und erhält eine Therapie gegen die Entzündung."
            if medical else "Der Verein plant ein Sommerfest im Park mit Musik und Kuchen.")
    return f"Dokument {i}. {body} {marker}".strip()


def write_corpus(root: Path, texts: list[str], expert_every: int = 4, profile: str = "test",
                 shard_size: int = 50) -> Path:
    """Shards + expert annotations (every `expert_every`-th document, label = 'krank' in text)."""
    d = Path(root) / "data" / profile / "00_corpus"
    (d / "shards").mkdir(parents=True, exist_ok=True)
    recs = [record(i, t) for i, t in enumerate(texts)]
    for s in range(0, len(recs), shard_size):
        pq.write_table(pa.Table.from_pylist(recs[s: s + shard_size], schema=FINEWEB2_SCHEMA),
                       d / "shards" / f"shard-{s // shard_size:05d}.parquet")
    ex = [r for k, r in enumerate(recs) if k % expert_every == 0]
    lab = [int("krank" in r["text"]) for r in ex]
    pq.write_table(pa.table({"id": [r["id"] for r in ex], "label": lab, "label_a": lab, "label_b": lab,
                             "agree": [True] * len(ex)}, schema=EXPERT_SCHEMA), d / "expert_annotations.parquet")
    return d


def mixed_texts(n: int) -> list[str]:
    """n documents cycling through every server behaviour, half of them medical."""
    return [doc_text(i, medical=(i // len(MARKERS)) % 2 == 0, marker=MARKERS[i % len(MARKERS)]) for i in range(n)]


def register_corpus(root: Path, cfg_file: Path) -> None:
    """Record the hand-written corpus under `root` as stage 00's output (so `label` can run on it)."""
    import os

    from definemed import artifacts, stages
    from definemed.config import load_config

    old = os.environ.get("DEFINEMED_OUTPUT_ROOT")
    os.environ["DEFINEMED_OUTPUT_ROOT"] = str(root)
    try:
        stages.register(load_config(cfg_file), artifacts.CORPUS)
    finally:
        if old is None:
            os.environ.pop("DEFINEMED_OUTPUT_ROOT")
        else:
            os.environ["DEFINEMED_OUTPUT_ROOT"] = old
