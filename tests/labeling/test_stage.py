"""Stage 01 with the lexicon stand-in: the sample, the labels contract, resume, agreement, bad input."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from definemed import artifacts
from definemed.config import load_config
from tests.conftest import make_corpus
from definemed.errors import DefinemedError
from definemed.labeling.annotate import looks_german, run_label_stage
from definemed.labeling.agreement import agreement, scores
from definemed.labeling.backends.lexicon import LexiconAnnotator
from definemed.labeling.prompt import load_prompt
from definemed.labeling.sample import load_experts, select_documents
from tests.conftest import write_config


@pytest.fixture
def small_corpus(small_config):
    cfg = load_config(small_config)
    make_corpus(cfg)
    return small_config


def test_sample_is_seeded_and_contains_every_expert_document(small_corpus):
    cfg = load_config(small_corpus)
    d = artifacts.stage_dir(cfg, artifacts.CORPUS)
    a, b = select_documents(d, 300, cfg.seed), select_documents(d, 300, cfg.seed)
    pd.testing.assert_frame_equal(a, b)
    experts = load_experts(d)
    assert len(a) == 300 and a["id"].is_unique and set(experts["id"]) <= set(a["id"])
    assert a["is_expert"].sum() == len(experts) == 200
    assert not select_documents(d, 300, cfg.seed + 1)["id"].equals(a["id"])
    with pytest.raises(DefinemedError, match="label.n_docs: 100 is less than the 200 expert-annotated"):
        select_documents(d, 100, cfg.seed)
    with pytest.raises(DefinemedError, match="label.n_docs: 601 is more than the 600 documents"):
        select_documents(d, 601, cfg.seed)


def test_lexicon_stage_contract_resume_and_changed_settings(tmp_path, small_corpus, out_root):
    f = write_config(tmp_path / "c.yaml", corpus=load_config(small_corpus).corpus.model_dump(), label={"n_docs": 300})
    cfg = load_config(f)
    s = run_label_stage(cfg)
    out = out_root / "data" / "test" / "01_label" / "labels.parquet"
    schema = pq.read_schema(out)
    assert [(n, str(schema.field(n).type)) for n in schema.names] == [
        ("id", "string"), ("label", "int8"), ("prob", "float"), ("raw", "string"), ("backend", "string"), ("latency_s", "float")]
    labels = pd.read_parquet(out)
    assert len(labels) == 300 and labels["label"].isin([0, 1]).all() and labels["prob"].between(0, 1).all()
    assert s["stand_in"] and s["n_labelled_now"] == 300
    again = run_label_stage(cfg)
    assert again["n_resumed"] == 300 and again["n_labelled_now"] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), labels)
    changed = load_config(f, overrides={"label.lexicon.threshold": 9.0, "label.on_settings_change": "refuse"})
    with pytest.raises(DefinemedError, match="different settings \\(lexicon\\); rerun with --force"):
        run_label_stage(changed)
    assert run_label_stage(changed, force=True)["n_labelled_now"] == 300
    back = load_config(f)  # tiny default: restart, keeping the superseded labels
    with pytest.warns(UserWarning, match="settings changed \\(lexicon\\); earlier labels moved to"):
        assert run_label_stage(back)["n_labelled_now"] == 300
    old = list((out.parent / "superseded").glob("*/labels.parquet"))
    assert len(old) == 1 and len(pd.read_parquet(old[0])) == 300
    pd.testing.assert_frame_equal(pd.read_parquet(out).drop(columns="latency_s"), labels.drop(columns="latency_s"))


def test_lexicon_reads_german_medicine_and_errs_where_expected():
    a = LexiconAnnotator(load_prompt("prompts/label_medical_de.v1.txt"), "JA", "NEIN",
                         lexicon_file="src/definemed/labeling/lexicon_de.txt")
    clinical = ("Bei Verdacht auf eine Lungenentzündung sichert die Ärztin die Diagnose mit einem Röntgenbild. "
                "Die Therapie erfolgt mit einem Antibiotikum; typische Nebenwirkungen sind Übelkeit und Durchfall.")
    garden = "Im Herbst werden die Tulpenzwiebeln gesetzt, damit sie im Frühjahr blühen. Der Rasen braucht Dünger."
    english = "The patient was diagnosed with pneumonia and treated with antibiotics; side effects were mild."
    vet = "Die Tierärztin stellt bei dem Hund eine Entzündung fest; die Therapie mit einem Medikament hilft."
    assert a.label_text(clinical)[0] == 1 and a.label_text(clinical)[1] > 0.9
    assert a.label_text(garden)[0] == 0 and a.label_text(garden)[1] < 0.1
    # a document in another language is labelled like any other (the rubric is about the topic; Latin
    # roots such as patient / diagnos- carry over) and flagged by the stage, which counts it
    assert a.label_text(english)[0] == 1 and not looks_german(english) and looks_german(clinical)
    assert a.label_text(vet)[0] == 1      # veterinary text with clinical words: the stand-in's known mistake
    assert a.label_text("")[0] == 0


def test_agreement_metrics_and_bootstrap():
    from sklearn.metrics import cohen_kappa_score, f1_score

    g = np.random.default_rng(0)
    y = (g.random(400) < 0.3).astype(int)
    pred = np.where(g.random(400) < 0.85, y, 1 - y)
    s = scores(y, pred)
    assert s["f1"] == pytest.approx(f1_score(y, pred)) and s["kappa"] == pytest.approx(cohen_kappa_score(y, pred))
    ids = [f"d{i}" for i in range(400)]
    pred_inv = pred.copy()
    pred_inv[:5] = -1  # invalid answers count as not medical
    agr = agreement(pd.DataFrame({"id": ids, "label": pred_inv}), pd.DataFrame({"id": ids, "label": y}), 500, 0.95, 1)
    assert agr["n_invalid"] == 5 and agr["point"]["f1"] == pytest.approx(f1_score(y, np.where(pred_inv == 1, 1, 0)))
    lo, hi = agr["ci"]["f1"]
    assert lo < agr["point"]["f1"] < hi and hi - lo < 0.2
    assert agr["confusion"].to_numpy().sum() == 400 and agr["confusion"]["invalid"].sum() == 5
    again = agreement(pd.DataFrame({"id": ids, "label": pred_inv}), pd.DataFrame({"id": ids, "label": y}), 500, 0.95, 1)
    assert again["ci"] == agr["ci"]  # seeded
    perfect = agreement(pd.DataFrame({"id": ids, "label": y}), pd.DataFrame({"id": ids, "label": y}), 100, 0.95, 1)
    assert perfect["point"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "kappa": 1.0}
    with pytest.raises(DefinemedError, match="expert-annotated documents were not labelled"):
        agreement(pd.DataFrame({"id": ids[:10], "label": y[:10]}), pd.DataFrame({"id": ids, "label": y}), 10, 0.95, 1)


def test_cli_prompt_without_placeholder_exits_1_and_writes_nothing(tmp_path, small_corpus, out_root):
    bad = tmp_path / "bad_prompt.txt"
    bad.write_text("# version: 2\nIst das medizinisch? Antworte JA oder NEIN.\n")
    f = write_config(tmp_path / "c.yaml", corpus=load_config(small_corpus).corpus.model_dump(),
                     label={"n_docs": 300, "prompt_file": str(bad)})
    p = subprocess.run([sys.executable, "-m", "definemed", "label", "--profile", str(f)], capture_output=True, text=True,
                       env=os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root)})
    assert p.returncode == 1
    assert p.stderr.strip() == f"error: {bad}: the prompt must contain the placeholder {{document}} exactly once (found 0)"
    assert not (out_root / "data" / "test" / "01_label").exists()
