import hashlib
import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from definemed.config import CorpusConfig, load_config
from definemed.corpus import fact_bank
from definemed.corpus.stage import build_corpus
from definemed.corpus.factbank import RELATIONS, FactBank
from definemed.corpus.generator import CorpusGenerator
from definemed.corpus.loader import iter_documents, iter_local, shard_paths
from definemed.corpus.noise import add_typos
from definemed.corpus.schema import FINEWEB2_FIELDS
from definemed.corpus.stats import load_truth
from definemed.corpus import vocab
from definemed.errors import DefinemedError


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.parquet")):
        h.update(p.relative_to(folder).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_and_size_give_byte_identical_shards(small_config, tmp_path):
    cfg = load_config(small_config)
    build_corpus(cfg, tmp_path / "a")
    build_corpus(cfg, tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = load_config(small_config, overrides={"seed": 99})
    build_corpus(other, tmp_path / "c")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_resume_regenerates_a_missing_shard_identically(small_config, tmp_path):
    cfg = load_config(small_config)
    build_corpus(cfg, tmp_path / "a")
    before = _digest(tmp_path / "a")
    (tmp_path / "a" / "shards" / "shard-00001.parquet").unlink()
    build_corpus(cfg, tmp_path / "a")
    assert _digest(tmp_path / "a") == before


def test_fineweb2_schema_and_unique_ids(small_config, tmp_path):
    cfg = load_config(small_config)
    stats = build_corpus(cfg, tmp_path / "c")
    docs = list(iter_documents(tmp_path / "c"))
    assert len(docs) == stats["n_docs"] == 600
    assert list(docs[0].keys()) == FINEWEB2_FIELDS
    assert len({d["id"] for d in docs}) == 600
    assert all(d["language"] == "deu" and d["language_script"] == "Latn" for d in docs)
    assert json.loads(docs[0]["top_langs"])["deu_Latn_score"] == docs[0]["language_score"]


def test_recorded_properties_match_the_config():
    """Large sample straight from the generator: shares, lengths, noise rates, fact coverage."""
    c = CorpusConfig(n_docs=20000, medical_share=0.15, borderline_share=0.15, english_doc_share=0.05,
                     typo_doc_share=0.10, typo_word_rate=0.03, long_tail_share=0.01)
    gen = CorpusGenerator(c, seed=7)
    truth = [d.truth for d in gen.shard(0, 20000)]
    dom = np.array([t["domain"] for t in truth])
    assert abs((dom == "medical").mean() - 0.15) < 0.015
    assert abs((dom == "borderline").mean() - 0.15) < 0.015
    topics = {t["topic"] for t in truth}
    assert len(topics & set(vocab.MEDICAL)) >= 8 and len(topics & set(vocab.GENERAL)) >= 8
    assert len(topics & set(vocab.BORDERLINE)) >= 4
    lens = np.array([t["n_pretokens"] for t in truth])
    assert 60 < np.median(lens) < 200
    assert (lens > 4096).sum() > 0, "heavy tail must reach past 4,096 tokens"
    assert np.quantile(lens, 0.99) > 5 * np.median(lens)
    eng = np.array([t["n_english_sentences"] > 0 for t in truth])
    assert abs(eng.mean() - 0.05) < 0.01
    noisy = np.array([t["typo_noisy"] for t in truth])
    assert abs(noisy.mean() - 0.10) < 0.015
    rate = sum(t["n_typos"] for t in truth) / sum(t["n_typo_eligible"] for t in truth if t["typo_noisy"])
    assert abs(rate - 0.03) < 0.005
    exposures = np.bincount(np.concatenate([t["fact_ids"] for t in truth]).astype(int), minlength=len(gen.bank))
    assert len(gen.bank) >= 300 and exposures.min() > 0
    # no fact is stated outside medical documents
    assert all(not t["fact_ids"] for t in truth if t["domain"] != "medical")


def test_fact_bank_is_balanced_and_heldout_phrasings_never_appear(small_config, tmp_path):
    bank = FactBank(seed=1, n_drugs=50, n_diseases=50)
    assert len(bank) == 300
    for rel in ("drug_class", "side_effect", "organ", "cause", "symptom"):
        objs = [f.object for f in bank.facts if f.relation == rel]
        counts = np.unique(objs, return_counts=True)[1]
        assert counts.max() - counts.min() <= 1, rel
    for f in bank.facts[:20]:
        assert f.object not in f.distractor_pool(bank) and len(f.distractor_pool(bank)) >= 3
    cfg = load_config(small_config)
    build_corpus(cfg, tmp_path / "c")
    text = "\n".join(d["text"] for d in iter_documents(tmp_path / "c"))
    bank = fact_bank(cfg)
    for f in bank.facts:
        for k in range(len(RELATIONS[f.relation].heldout)):
            assert f.sentence(k, heldout=True) not in text


def test_expert_annotations_disagree_only_on_borderline(small_config, tmp_path):
    cfg = load_config(small_config, overrides={"corpus.expert_borderline_flip": 0.5})
    build_corpus(cfg, tmp_path / "c")
    ann = pq.read_table(tmp_path / "c" / "expert_annotations.parquet").to_pandas()
    truth = load_truth(tmp_path / "c").set_index("id")
    assert len(ann) == 200 and ann["id"].is_unique
    dom = truth.loc[ann["id"], "domain"].to_numpy()
    assert (ann["label"].to_numpy() == truth.loc[ann["id"], "is_medical"].to_numpy()).all()
    assert ann.loc[dom != "borderline", "agree"].all()
    assert (~ann.loc[dom == "borderline", "agree"]).sum() > 0


def test_add_typos_records_every_change():
    r = random.Random(0)
    text = "Die Patienten berichten häufig über starke Kopfschmerzen nach der Behandlung."
    noisy, planted, eligible = add_typos(text, 1.0, r)
    assert eligible == len(planted) == 8
    assert all(a != b and b in noisy for a, b in planted)
    assert add_typos(text, 0.0, r)[0] == text


def test_local_loader_reads_parquet_and_jsonl(tmp_path):
    recs = [{f: None for f in FINEWEB2_FIELDS} | {"text": f"Text {i}", "id": str(i), "language_score": 0.9,
                                                   "minhash_cluster_size": 1, "top_langs": {"deu_Latn_score": 0.9}}
            for i in range(5)]
    d = tmp_path / "fw"
    d.mkdir()
    pq.write_table(pa.Table.from_pylist(recs[:3]), d / "a.parquet")
    (d / "b.jsonl").write_text("\n".join(json.dumps(r) for r in recs[3:]) + "\n")
    got = [r for batch in iter_local(d) for r in batch]
    assert [r["id"] for r in got] == ["0", "1", "2", "3", "4"]
    assert isinstance(got[0]["top_langs"], str)


def test_local_source_writes_the_same_shards(tmp_path, small_config):
    cfg = load_config(small_config)
    build_corpus(cfg, tmp_path / "syn")
    local = load_config(small_config, overrides={"corpus.source": "local", "corpus.local_path": str(tmp_path / "syn" / "shards"),
                                                 "corpus.n_docs": 500, "corpus.shard_size": 200})
    stats = build_corpus(local, tmp_path / "copy")
    assert stats["n_docs"] == 500 and stats["n_shards"] == 3
    a = [d["id"] for d in iter_documents(tmp_path / "syn")][:500]
    assert [d["id"] for d in iter_documents(tmp_path / "copy")] == a


def test_loader_errors_name_the_file(tmp_path):
    d = tmp_path / "fw"
    d.mkdir()
    pq.write_table(pa.table({"text": ["x"], "id": ["1"]}), d / "bad.parquet")
    with pytest.raises(DefinemedError, match=r"bad\.parquet: missing FineWeb2 field\(s\): dump"):
        list(iter_local(d))
    (d / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DefinemedError, match=r"bad\.parquet: unreadable parquet"):
        list(iter_local(d))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DefinemedError, match="no .parquet or .jsonl files"):
        list(iter_local(empty))
    with pytest.raises(DefinemedError, match="no corpus shards"):
        shard_paths(empty)
