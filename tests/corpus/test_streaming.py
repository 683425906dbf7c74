"""The paper-profile data path on a local stand-in for the hub: a folder of FineWeb2-schema parquet
files read through the same fsspec reader as hf://. The sample is the bottom-k of a keyed hash, the
same for any worker count, resumes after a crash, and no full copy of the corpus is written."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from definemed.corpus import streaming
from definemed.errors import DefinemedError
from tests.conftest import write_config

N_DOCS, SAMPLE, HELDOUT = 3000, 150, 50


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """FineWeb2's layout (data/deu_Latn/train/*.parquet) with synthetic documents in its schema."""
    from definemed.config import load_config
    from definemed.corpus.stage import build_corpus

    root = tmp_path_factory.mktemp("hub")
    cfg = load_config(write_config(root / "gen.yaml", corpus={"n_docs": N_DOCS, "shard_size": 500, "expert_sample": 0,
                                                               "n_drugs": 10, "n_diseases": 10}))
    build_corpus(cfg, root / "gen")
    train = root / "fineweb-2" / "data" / "deu_Latn" / "train"
    train.mkdir(parents=True)
    for i, f in enumerate(sorted((root / "gen" / "shards").glob("*.parquet"))):
        shutil.copy(f, train / f"000_{i:05d}.parquet")
    return root / "fineweb-2"


def _cfg(tmp_path, hub, **corpus):
    from definemed.config import load_config

    c = {"source": "hub", "stream_url": str(hub / "data" / "deu_Latn" / "train"), "sample_docs": SAMPLE,
         "heldout_general_docs": HELDOUT, "shard_size": 64, **corpus}
    return load_config(write_config(tmp_path / "paper.yaml", corpus=c))


def _wchar() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar")


def _ids(d: Path) -> list[str]:
    return [i for f in sorted(d.glob("shard-*.parquet")) for i in pq.read_table(f, columns=["id"])["id"].to_pylist()]


def _bytes(d: Path) -> int:
    return sum(f.stat().st_size for f in d.rglob("*") if f.is_file())


def test_stage00_streams_the_samples_without_a_full_copy(tmp_path, out_root, hub):
    from definemed import artifacts, stages

    if not Path("/proc/self/io").exists():
        pytest.skip("needs /proc/self/io to count bytes written")
    cfg = _cfg(tmp_path, hub)
    before = _wchar()
    stats = stages.run(cfg, artifacts.CORPUS)["counts"]  # the stage as make / `definemed run` runs it
    written = _wchar() - before
    out = artifacts.stage_dir(cfg, artifacts.CORPUS)
    source_bytes = _bytes(hub)
    sample_bytes = _bytes(out / "shards") + _bytes(out / "heldout_general")
    # the bound: the candidate parts (about k + 6 sqrt(k) + 100 documents) plus the output shards,
    # i.e. about twice the sample, plus 256 kB of JSON and parquet footers; far below one copy
    assert written <= 3 * sample_bytes + 256_000, (written, sample_bytes)
    assert written < 0.5 * source_bytes, (written, source_bytes)
    assert stats["bytes_written"] <= 3 * sample_bytes
    assert not (out / "_stream").exists()
    assert stats["n_docs"] == SAMPLE and stats["n_source_docs"] == N_DOCS
    ids, held = _ids(out / "shards"), _ids(out / "heldout_general")
    assert len(ids) == SAMPLE and len(held) == HELDOUT and not set(ids) & set(held)
    # the selection is exactly the bottom-k of the keyed hash over the whole source
    src = pd.concat([pd.read_parquet(f, columns=["id"]) for f in sorted(hub.rglob("*.parquet"))])
    pr = streaming.priorities(src["id"].tolist(), cfg.seed)
    order = src["id"].to_numpy()[np.argsort(pr, kind="stable")]
    assert set(ids) == set(order[:SAMPLE]) and set(held) == set(order[SAMPLE:SAMPLE + HELDOUT])
    # shards keep FineWeb2's schema and the labeling stage can take its sample from them
    from definemed.corpus.schema import FINEWEB2_SCHEMA
    from definemed.labeling.sample import select_documents

    assert pq.read_schema(out / "shards" / "shard-00000.parquet").names == FINEWEB2_SCHEMA.names
    assert len(select_documents(out, SAMPLE, cfg.seed)) == SAMPLE


def test_sample_is_the_same_for_any_worker_count_and_resumes_after_a_crash(tmp_path, hub, monkeypatch):
    url = str(hub / "data" / "deu_Latn" / "train")
    ref = streaming.sample_corpus(url, tmp_path / "ref", 7, SAMPLE, HELDOUT, 64, workers=2)
    real, calls = streaming.scan_file, []

    def crash(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt("killed")
        return real(*a, **k)

    monkeypatch.setattr(streaming, "scan_file", crash)
    with pytest.raises(KeyboardInterrupt):
        streaming.sample_corpus(url, tmp_path / "run", 7, SAMPLE, HELDOUT, 64)
    assert len(list((tmp_path / "run" / "_stream" / "parts").glob("*.parquet"))) == 3
    monkeypatch.setattr(streaming, "scan_file", real)
    again = streaming.sample_corpus(url, tmp_path / "run", 7, SAMPLE, HELDOUT, 64)
    assert again["n_files_scanned_now"] == ref["n_files"] - 3
    assert _ids(tmp_path / "run" / "shards") == _ids(tmp_path / "ref" / "shards")
    assert _ids(tmp_path / "run" / "heldout_general") == _ids(tmp_path / "ref" / "heldout_general")
    other = streaming.sample_corpus(url, tmp_path / "seed8", 8, SAMPLE, HELDOUT, 64)
    assert other["n_docs"] == SAMPLE and _ids(tmp_path / "seed8" / "shards") != _ids(tmp_path / "ref" / "shards")


def test_unpinned_hub_revision_is_refused_unless_allowed(tmp_path, out_root, monkeypatch):
    from definemed.config import load_config

    monkeypatch.delenv("DEFINEMED_ALLOW_UNPINNED", raising=False)
    cfg = load_config(write_config(tmp_path / "p.yaml", corpus={"source": "hub", "sample_docs": 10}))
    with pytest.raises(DefinemedError, match="corpus.hf_revision: revision 'main'.*not a commit hash"):
        streaming.stream_source_url(cfg)
    monkeypatch.setenv("DEFINEMED_ALLOW_UNPINNED", "1")
    assert streaming.stream_source_url(cfg).endswith("@main/data/deu_Latn/train")
    monkeypatch.delenv("DEFINEMED_ALLOW_UNPINNED")
    cfg = load_config(write_config(tmp_path / "q.yaml", corpus={"source": "hub", "sample_docs": 10}, allow_unpinned=True))
    assert streaming.stream_source_url(cfg) == "hf://datasets/HuggingFaceFW/fineweb-2@main/data/deu_Latn/train"
    sha = "af9c13333eb981300149d5ca60a8e9d659b276b9"
    cfg = load_config(write_config(tmp_path / "r.yaml", corpus={"source": "hub", "sample_docs": 10, "hf_revision": sha}))
    assert streaming.stream_source_url(cfg) == f"hf://datasets/HuggingFaceFW/fineweb-2@{sha}/data/deu_Latn/train"


def test_too_large_a_sample_and_an_empty_source_are_clear_errors(tmp_path, hub):
    url = str(hub / "data" / "deu_Latn" / "train")
    with pytest.raises(DefinemedError, match="more than the 3000 documents"):
        streaming.sample_corpus(url, tmp_path / "a", 1, N_DOCS, 1, 64)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DefinemedError, match="no files matching"):
        streaming.sample_corpus(str(tmp_path / "empty"), tmp_path / "b", 1, 5, 0, 64)


def test_streamed_general_sample_equals_the_in_memory_one(hub):
    from definemed.seed import rng

    files = sorted(hub.rglob("*.parquet"))
    df = pd.concat([pd.read_parquet(f, columns=["id", "text"]) for f in files], ignore_index=True)
    exclude = set(df.id.iloc[::7])
    keep = df[~df.id.isin(exclude)].reset_index(drop=True)
    want = keep.iloc[rng(3, "cpt-general").permutation(len(keep))[:40]].reset_index(drop=True)
    got = streaming.sample_general(files, exclude, 40, rng(3, "cpt-general"))
    pd.testing.assert_frame_equal(got, want)
