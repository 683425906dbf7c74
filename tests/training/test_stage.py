"""Stage 04 input handling: FineMed-de missing or empty, held-out split, packing table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.training import stage


def _write_finemed(cfg, texts):
    d = cfg.stage_dir("03_filter") / "shards"
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts,
                  "score": np.full(len(texts), 0.95, np.float32)}).to_parquet(d / "shard-00000.parquet")


def test_missing_or_empty_finemed_is_a_clear_error(small_config):
    cfg = load_config(small_config)
    with pytest.raises(DefinemedError, match="no FineMed-de shards"):
        stage.split_documents(cfg)
    _write_finemed(cfg, [])
    with pytest.raises(DefinemedError, match="FineMed-de is empty"):
        stage.split_documents(cfg)


def test_split_holds_out_disjoint_documents(small_config):
    from tests.conftest import make_corpus

    cfg = load_config(small_config)
    make_corpus(cfg)
    _write_finemed(cfg, [f"Medizinischer Text Nummer {i}." for i in range(200)])
    s = stage.split_documents(cfg)
    medical_train = s["train"][s["train"].id.str.match(r"d\d+$")]  # the rest is general replay
    assert len(s["heldout_medical"]) == 20 and len(medical_train) == 180
    assert len(s["train"]) - len(medical_train) == s.get("n_replay_docs", 0)
    assert not set(s["train"].id) & set(s["heldout_medical"].id)
    assert len(s["heldout_general"]) == 20 and not set(s["heldout_general"].id) & set(s["train"].id)
    assert stage.small_models(cfg) == ["mistral-7b-tiny", "qwen2.5-7b-tiny"]


def test_packing_table_orders_strategies():
    lengths = np.random.default_rng(0).lognormal(np.log(40), 1.0, 3000).astype(np.int64) + 1
    t = stage.packing_table(lengths, 128).set_index("strategy")
    bfd = t.loc["best-fit decreasing (ours)", "efficiency"]
    assert t.loc["one document per sequence, padded", "efficiency"] < bfd <= t.loc["concatenate and chunk", "efficiency"]
    assert bfd > 0.99 and (t.tokens_kept == lengths.sum()).all()


def test_run_key_follows_the_stage_fingerprint_and_cpt_config(small_config):
    from definemed import artifacts

    cfg = load_config(small_config)
    fp = stage.fingerprint(cfg, "qwen2.5-7b-tiny")
    assert fp == stage.fingerprint(cfg, "qwen2.5-7b-tiny") != stage.fingerprint(cfg, "mistral-7b-tiny")
    marker = artifacts.stage_dir(cfg, artifacts.CPT) / ".fingerprint"
    marker.parent.mkdir(parents=True)
    marker.write_text("abc\n")  # the stage runner records its fingerprint here when it starts
    assert stage.fingerprint(cfg, "qwen2.5-7b-tiny") != fp
    other = cfg.model_copy(update={"cpt": cfg.cpt.model_copy(update={"lr": cfg.cpt.lr * 2})})
    assert stage.fingerprint(other, "qwen2.5-7b-tiny") != stage.fingerprint(cfg, "qwen2.5-7b-tiny")



def test_claim_stage_takes_the_stage_lock(small_config, monkeypatch):
    """Two model jobs (or a job and `make`) claiming 04_cpt at once: the claim waits for the stage's
    lock, so the check of the fingerprint and the clearing of the folder never interleave."""
    from definemed import artifacts, stages
    from definemed.lock import LockedError, output_lock
    from definemed.training import run_record

    cfg = load_config(small_config)
    monkeypatch.setattr(stages, "fingerprint", lambda cfg, stage, strict=True: ("fp1", {}))
    monkeypatch.setattr(run_record, "CLAIM_WAIT_S", 0.2)
    d = stage.stage_dir(cfg)
    with output_lock(d, "a stage run"):
        with pytest.raises(LockedError, match="another run of"):
            run_record.claim_stage(cfg)
        assert not d.exists()
    run_record.claim_stage(cfg)
    assert stages.read_marker(cfg, artifacts.CPT)["fingerprint"] == "fp1"
