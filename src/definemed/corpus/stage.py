"""Stage 00: the web corpus. `run(cfg)` writes data/<profile>/00_corpus/ (see definemed.artifacts) with

- shards/shard-XXXXX.parquet   documents in FineWeb2's schema (what every later stage reads)
- truth/truth-XXXXX.parquet    ground truth per document (synthetic source only; see schema.py)
- expert_annotations.parquet   the 'human expert' labels of a sample (synthetic source only)
- factbank.json                the medical facts the documents state (synthetic source only)
- stats.json                   counts and measured rates
- README.md                    the dataset card: what the corpus is, from the config and these counts
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from definemed.progress import tqdm

from definemed import artifacts, io, paths
from definemed.cards import dataset_card
from definemed.config import Config
from definemed.corpus import fact_bank
from definemed.corpus.generator import CorpusGenerator
from definemed.corpus.loader import iter_hub, iter_local, table_from_records
from definemed.corpus.schema import EXPERT_SCHEMA, FINEWEB2_SCHEMA, TRUTH_SCHEMA
from definemed.corpus.stats import corpus_stats, load_truth
from definemed.errors import DefinemedError
from definemed.seed import rng

def _write_parquet(table: pa.Table, path: Path) -> None:
    with io.atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _generate(cfg: Config, out: Path) -> None:
    c = cfg.corpus
    gen = CorpusGenerator(c, cfg.seed)
    n_shards = -(-c.n_docs // c.shard_size)
    for i in tqdm(range(n_shards), desc="corpus shards", unit="shard"):
        shard, truth = out / "shards" / f"shard-{i:05d}.parquet", out / "truth" / f"truth-{i:05d}.parquet"
        if shard.exists() and truth.exists():
            continue  # resume: shards are independent streams, a finished one is final
        n = min(c.shard_size, c.n_docs - i * c.shard_size)
        docs = gen.shard(i, n)
        _write_parquet(pa.Table.from_pylist([d.truth for d in docs], schema=TRUTH_SCHEMA), truth)
        _write_parquet(pa.Table.from_pylist([d.record for d in docs], schema=FINEWEB2_SCHEMA), shard)
    io.write_json(out / "factbank.json", gen.bank.to_records())


def _expert_annotations(cfg: Config, out: Path, truth) -> None:
    c = cfg.corpus
    g = rng(cfg.seed, "expert")
    k = min(c.expert_sample, len(truth))
    idx = sorted(g.choice(len(truth), size=k, replace=False).tolist())
    sample = truth.iloc[idx]
    label_a = sample["is_medical"].to_numpy()
    flip = (sample["domain"].to_numpy() == "borderline") & (g.random(k) < c.expert_borderline_flip)
    label_b = label_a ^ flip.astype(label_a.dtype)
    table = pa.table({"id": sample["id"].tolist(), "label": label_a, "label_a": label_a, "label_b": label_b,
                      "agree": (label_a == label_b).tolist()}, schema=EXPERT_SCHEMA)
    _write_parquet(table, out / "expert_annotations.parquet")


def _copy_real(cfg: Config, out: Path) -> dict:
    c = cfg.corpus
    if c.sample_docs:  # paper profile: stream and keep only the samples (corpus/streaming.py)
        from definemed.corpus.streaming import sample_corpus, stream_source_url

        return sample_corpus(stream_source_url(cfg), out, cfg.seed, c.sample_docs, c.heldout_general_docs,
                             c.shard_size, workers=c.stream_workers)
    if c.source == "local":
        if not c.local_path:
            raise DefinemedError("corpus.local_path: required when corpus.source is 'local'")
        batches = iter_local(paths.ROOT / c.local_path if not Path(c.local_path).is_absolute() else c.local_path)
    else:
        batches = iter_hub(c.hf_dataset, c.hf_config, c.hf_split)
    buf, written, shard = [], 0, 0
    with tqdm(total=c.n_docs, desc=f"corpus ({c.source})", unit="doc") as bar:
        for batch in batches:
            buf.extend(batch[: c.n_docs - written - len(buf)])
            while len(buf) >= c.shard_size or (buf and written + len(buf) >= c.n_docs):
                part, buf = buf[: c.shard_size], buf[c.shard_size:]
                _write_parquet(table_from_records(part), out / "shards" / f"shard-{shard:05d}.parquet")
                shard += 1
                written += len(part)
                bar.update(len(part))
            if written >= c.n_docs:
                break
        if buf:  # the source ended before n_docs: its last, partial shard is written too
            _write_parquet(table_from_records(buf), out / "shards" / f"shard-{shard:05d}.parquet")
            written += len(buf)
            bar.update(len(buf))
    if written == 0:
        raise DefinemedError(f"corpus source '{c.source}': no documents read")
    return {}


def build_corpus(cfg: Config, out: str | Path) -> dict:
    """Write (or resume writing, under the same config) the corpus into the folder `out`; its statistics.

    Shards already in `out` are taken as final: the stage runner (`run`) clears the folder whenever
    the corpus config changed, so only call this directly on an empty folder or your own resume."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.corpus.source == "synthetic":
        _generate(cfg, out)
        truth = load_truth(out)
        _expert_annotations(cfg, out, truth)
        stats = corpus_stats(truth, len(fact_bank(cfg)))
    else:
        stats = _copy_real(cfg, out)
    n_shards = len(list((out / "shards").glob("shard-*.parquet")))
    stats.update({"n_shards": n_shards, "source": cfg.corpus.source})
    if "n_docs" not in stats:
        stats["n_docs"] = sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "shards").glob("shard-*.parquet"))
    io.write_json(out / "stats.json", stats)
    io.write_text(out / "README.md", dataset_card(cfg, stats))  # the corpus' dataset card (definemed.cards)
    return stats


def run(cfg: Config) -> dict:
    """Stage 00: the corpus of the profile in data/<profile>/00_corpus (see definemed.stages)."""
    return build_corpus(cfg, artifacts.stage_dir(cfg, artifacts.CORPUS))
