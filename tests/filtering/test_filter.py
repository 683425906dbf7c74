"""The filter keeps exactly the documents at or above the threshold, resumes without losing any,
never leaves a partial shard, rejects bad input, and the datatrove step gives the same output."""
import numpy as np
import pyarrow.parquet as pq
import pytest

from definemed.classifier.inference import Scorer, length_sorted_batches
from definemed.corpus.schema import FINEWEB2_FIELDS
from definemed.errors import DefinemedError
from definemed.filtering import filter as flt


@pytest.fixture(scope="module")
def scorer(corpus_and_model):
    cfg, _, model_dir = corpus_and_model
    return Scorer(model_dir, batch_size=16, max_length=48, torch_threads=2)


@pytest.fixture(scope="module")
def all_texts(corpus_and_model):
    _, corpus, _ = corpus_and_model
    return pq.read_table(sorted((corpus / "shards").glob("*.parquet"))[0])


@pytest.fixture(scope="module")
def threshold(scorer, all_texts):
    """A threshold that splits the random model's scores roughly in half."""
    return float(np.median(scorer.score(all_texts["text"].to_pylist())))


def test_length_sorted_batches_cover_every_index_once():
    b = length_sorted_batches([5, 1, 9, 3, 7], 2)
    assert sorted(np.concatenate(b).tolist()) == [0, 1, 2, 3, 4]
    assert [len(x) for x in b] == [2, 2, 1] and b[0].tolist() == [2, 4]


def test_batched_scores_equal_one_by_one_scores(scorer, all_texts):
    texts = all_texts["text"].to_pylist()[:24]
    batched = scorer.score(texts)
    single = np.array([scorer.score([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert batched.dtype == np.float32 and ((batched > 0) & (batched < 1)).all()


def _run(cfg, corpus, model_dir, out, scorer, threshold):
    return flt.filter_corpus(cfg, corpus_dir=corpus, out_dir=out, model_dir=model_dir, scorer=scorer, threshold=threshold)


def test_keeps_exactly_the_documents_at_or_above_threshold(corpus_and_model, scorer, threshold, tmp_path):
    cfg, corpus, model_dir = corpus_and_model
    stats = _run(cfg, corpus, model_dir, tmp_path / "out", scorer, threshold)
    import pandas as pd

    src = pd.concat([pq.read_table(p).to_pandas() for p in sorted((corpus / "shards").glob("*.parquet"))])
    fresh = scorer.score(src["text"].tolist())
    expect = src.loc[fresh >= np.float32(threshold), "id"].tolist()
    kept = flt.read_filtered(tmp_path / "out")
    assert kept.column("id").to_pylist() == expect  # same documents, input order
    assert kept.schema.names == FINEWEB2_FIELDS + ["score"] and str(kept.schema.field("score").type) == "float"
    assert (kept.column("score").to_numpy() >= np.float32(threshold)).all()
    scores = flt.read_scores(tmp_path / "out").to_pandas()
    assert scores["id"].tolist() == src["id"].tolist()  # every document scored, none lost
    assert stats["n_docs"] == 300 and stats["n_kept"] == len(expect) and 0 < len(expect) < 300


def test_resumed_run_skips_finished_shards_and_loses_nothing(corpus_and_model, scorer, threshold, tmp_path, monkeypatch):
    cfg, corpus, model_dir = corpus_and_model
    ref = _run(cfg, corpus, model_dir, tmp_path / "ref", scorer, threshold)
    out = tmp_path / "out"
    real = flt.filter_shard
    calls = []

    def crash_on_second(src, *a, **k):
        calls.append(src.name)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-run")
        return real(src, *a, **k)

    monkeypatch.setattr(flt, "filter_shard", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, corpus, model_dir, out, scorer, threshold)
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["shard-00000.parquet"]  # no partial shard, no temp file
    monkeypatch.setattr(flt, "filter_shard", real)
    resumed = _run(cfg, corpus, model_dir, out, scorer, threshold)
    assert resumed["n_shards_skipped"] == 1 and resumed["n_kept"] == ref["n_kept"]
    assert flt.read_filtered(out).equals(flt.read_filtered(tmp_path / "ref"))
    again = _run(cfg, corpus, model_dir, out, scorer, threshold)
    assert again["n_shards_skipped"] == 3
    changed = _run(cfg, corpus, model_dir, out, scorer, min(0.99, threshold + 0.001))
    assert changed["n_shards_skipped"] == 0  # a new threshold invalidates finished shards


def test_write_failure_leaves_no_partial_shard(corpus_and_model, scorer, threshold, tmp_path, monkeypatch):
    cfg, corpus, model_dir = corpus_and_model

    def broken_write(self, table, *a, **k):  # the rolling writer fails mid-shard
        raise OSError("disk full")

    monkeypatch.setattr(flt.pq.ParquetWriter, "write_table", broken_write)
    with pytest.raises(OSError):
        _run(cfg, corpus, model_dir, tmp_path / "out", scorer, threshold)
    left = list((tmp_path / "out").rglob("*.parquet")) + list((tmp_path / "out").rglob(".*"))
    assert left == []


def test_corrupt_shard_is_a_clear_error(corpus_and_model, scorer, threshold, tmp_path):
    import shutil

    cfg, corpus, model_dir = corpus_and_model
    bad = tmp_path / "corpus"
    shutil.copytree(corpus, bad)
    (bad / "shards" / "shard-00001.parquet").write_bytes(b"PAR1 garbage, not a parquet file PAR1")
    with pytest.raises(DefinemedError, match=r"shard-00001\.parquet: unreadable parquet shard"):
        _run(cfg, bad, model_dir, tmp_path / "out", scorer, threshold)
    assert not (tmp_path / "out" / "shards" / "shard-00001.parquet").exists()


@pytest.mark.parametrize("t", [0.0, 1.0, 1.2, -0.5])
def test_threshold_outside_unit_interval_is_an_error(corpus_and_model, scorer, tmp_path, t):
    cfg, corpus, model_dir = corpus_and_model
    with pytest.raises(DefinemedError, match="between 0 and 1"):
        _run(cfg, corpus, model_dir, tmp_path / "out", scorer, t)
    with pytest.raises(DefinemedError):
        flt.keep_mask(np.array([0.5]), t)


def test_config_threshold_outside_unit_interval_is_a_config_error(tmp_path):
    from definemed.config import load_config
    from definemed.errors import ConfigError
    from tests.conftest import write_config

    with pytest.raises(ConfigError, match="classifier.threshold"):
        load_config(write_config(tmp_path / "c.yaml", classifier={"threshold": 1.5}))


def test_datatrove_engine_writes_exactly_what_the_shard_engine_writes(corpus_and_model, threshold, tmp_path):
    """Both engines on the same corpus: identical FineMed-de shards (content and record), score files
    and filter statistics, at the path CPT reads."""
    from definemed.filtering.datatrove_step import run_datatrove

    cfg, corpus, model_dir = corpus_and_model
    ours = flt.filter_corpus(cfg, corpus_dir=corpus, out_dir=tmp_path / "ours", model_dir=model_dir, threshold=threshold)
    theirs = run_datatrove(cfg, "local", input_folder=str(corpus / "shards"), out_dir=tmp_path / "dt",
                           model_dir=model_dir, tasks=2, workers=1, threshold=threshold, start_method="fork")
    names = sorted(p.name for p in (tmp_path / "ours" / "shards").glob("*.parquet"))
    assert names == sorted(p.name for p in (tmp_path / "dt" / "shards").glob("*.parquet")) and len(names) == 3
    for sub, pattern in (("shards", "shard-*.parquet"), ("scores", "scores-*.parquet")):
        for a, b in zip(sorted((tmp_path / "ours" / sub).glob(pattern)), sorted((tmp_path / "dt" / sub).glob(pattern))):
            ta, tb = pq.read_table(a), pq.read_table(b)
            assert a.name == b.name and ta.schema == tb.schema and ta.equals(tb), a.name
            if sub == "shards":
                ra, rb = (flt._shard_record(x) for x in (a, b))
                assert {k: v for k, v in ra.items() if k != "seconds"} == {k: v for k, v in rb.items() if k != "seconds"}
    drop = ("seconds", "scored_seconds", "n_shards_skipped")
    assert {k: v for k, v in theirs.items() if k not in drop} == {k: v for k, v in ours.items() if k not in drop}
    import json

    sa, sb = (json.loads((tmp_path / d / "filter_stats.json").read_text()) for d in ("ours", "dt"))
    assert [{k: v for k, v in s.items() if k != "seconds"} for s in sa["shards"]] == \
        [{k: v for k, v in s.items() if k != "seconds"} for s in sb["shards"]]
    assert 0 < theirs["n_kept"] < theirs["n_docs"] == 300
    again = run_datatrove(cfg, "local", input_folder=str(corpus / "shards"), out_dir=tmp_path / "dt",
                          model_dir=model_dir, tasks=2, workers=1, threshold=threshold, start_method="fork")
    assert again["n_kept"] == theirs["n_kept"]


def test_config_engine_datatrove_routes_the_stage_to_datatrove(corpus_and_model, threshold, tmp_path, monkeypatch):
    from definemed.filtering import datatrove_step

    cfg, corpus, model_dir = corpus_and_model
    cfg = cfg.model_copy(update={"filter": cfg.filter.model_copy(update={"engine": "datatrove"})})
    seen = {}
    monkeypatch.setattr(datatrove_step, "run_datatrove", lambda c, **k: seen.update(k) or {"n_kept": 1})
    assert flt.filter_corpus(cfg, out_dir=tmp_path / "o", model_dir=model_dir, threshold=threshold) == {"n_kept": 1}
    assert seen["out_dir"] == tmp_path / "o" and seen["threshold"] == threshold


def test_blank_documents_never_reach_the_model_and_are_counted(corpus_and_model, scorer, all_texts, tmp_path):
    texts = all_texts["text"].to_pylist()[:3]
    before = scorer.n_blank
    s = scorer.score(["", texts[0], "   \n", ":", texts[1]])
    assert s[0] == s[2] == s[3] == 0.0 and s[1] > 0 and s[4] > 0  # the random model never gives exactly 0
    np.testing.assert_allclose(s[[1, 4]], scorer.score([texts[0], texts[1]]), atol=1e-5)
    assert scorer.n_blank - before == 3
    assert (scorer.score(["", " "]) == 0).all()
    # the filter counts them per shard and keeps none of them
    import pyarrow as pa

    cfg, corpus, model_dir = corpus_and_model
    src = corpus / "shards" / "shard-00000.parquet"
    t = pq.read_table(src)
    col = t["text"].to_pylist()
    col[0], col[1] = " ", ":"
    blank_dir = tmp_path / "blank_corpus" / "shards"
    blank_dir.mkdir(parents=True)
    pq.write_table(t.set_column(t.schema.get_field_index("text"), "text", pa.array(col)), blank_dir / src.name)
    stats = flt.filter_shard(blank_dir / src.name, tmp_path / "out", scorer, 1e-6, "fp")
    assert stats["n_blank"] == 2 and stats["n_kept"] == t.num_rows - 2  # every other document scores > 0
    ids = flt.read_filtered(tmp_path / "out").column("id").to_pylist()
    assert t["id"][0].as_py() not in ids and t["id"][1].as_py() not in ids
