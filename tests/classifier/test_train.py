"""Early stopping keeps the best-F-beta checkpoint; the stage end to end on a small corpus; CLI errors."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from definemed import artifacts, stages
from definemed.classifier.model import scratch_model, train_tokenizer
from definemed.classifier.train import METRIC, TokenizedDataset, build_trainer, training_arguments
from definemed.config import ClassifierConfig, load_config
from tests.conftest import make_corpus
from definemed.corpus.stats import load_truth

TEXTS = ["Der Patient erhielt ein Medikament gegen Bluthochdruck.", "Das Wetter wird morgen sonnig und warm.",
         "Die Niere filtert das Blut.", "Der Verein gewann das Spiel mit zwei Toren."] * 10


@pytest.fixture
def tiny(tmp_path):
    c = ClassifierConfig(init="scratch", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32,
                         max_length=32, vocab_size=200, batch_size=4, eval_steps=2, patience=3, epochs=3,
                         learning_rate=1e-3)
    tok = train_tokenizer(TEXTS, c.vocab_size, tmp_path / "tok")
    return c, tok, scratch_model(c, len(tok), seed=0)


def test_early_stopping_keeps_the_best_fbeta_checkpoint(tiny, tmp_path):
    c, tok, model = tiny
    scripted = iter([0.1, 0.5, 0.3, 0.8, 0.2, 0.6, 0.7, 0.9, 0.95])  # best 0.8 at eval 4, then 3 worse
    ds = TokenizedDataset(tok, TEXTS, [1, 0, 1, 0] * 10, c.max_length)
    args = training_arguments(c, tmp_path / "run", seed=0, save_total_limit=None)
    trainer = build_trainer(model, tok, ds, ds, args, c.patience, lambda _: {METRIC: next(scripted)})
    trainer.train()
    st = trainer.state
    assert st.best_model_checkpoint.endswith("checkpoint-8") and st.best_metric == 0.8
    assert st.global_step == 14 < st.max_steps  # stopped after 3 evaluations without improvement
    best = load_file(str(tmp_path / "run" / "checkpoint-8" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "checkpoint-14" / "model.safetensors"))
    params = dict(trainer.model.named_parameters())
    name = "classifier.out_proj.weight"
    assert not torch.equal(best[name], last[name])
    for k, v in best.items():
        if k in params:
            assert torch.equal(params[k].detach().cpu(), v), k


@pytest.fixture
def small_stage(small_config, out_root, tmp_path):
    """A 400-document corpus and a label file derived from its truth (test data, not the pipeline)."""
    from tests.conftest import write_config

    cfg_path = write_config(tmp_path / "s.yaml", corpus={"n_docs": 400, "shard_size": 200, "expert_sample": 60},
                            classifier={"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32,
                                        "max_length": 24, "vocab_size": 300, "tokenizer_docs": 200, "epochs": 1,
                                        "eval_steps": 10, "batch_size": 16, "n_bootstrap": 50})
    cfg = load_config(cfg_path)
    make_corpus(cfg)
    truth = load_truth(cfg.stage_dir("00_corpus"))
    g = np.random.default_rng(0)
    lab = truth["is_medical"].to_numpy().astype(np.int8)
    lab[g.random(len(lab)) < 0.02] = -1
    (cfg.stage_dir("01_label")).mkdir(parents=True)
    pd.DataFrame({"id": truth["id"], "label": lab}).to_parquet(cfg.stage_dir("01_label") / "labels.parquet")
    return cfg, cfg_path


def test_stage_writes_model_and_operating_point(small_stage):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from definemed.classifier.stage import run_classifier

    cfg, _ = small_stage
    s = run_classifier(cfg)
    md = artifacts.classifier_model(cfg)
    assert (md / "model.safetensors").is_file() and not list(md.glob("*.bin"))
    assert AutoTokenizer.from_pretrained(str(md)).__class__.__name__.startswith("XLMRoberta")
    assert AutoModelForSequenceClassification.from_pretrained(str(md)).config.model_type == "xlm-roberta"
    op = json.loads(artifacts.classifier_operating_point(cfg).read_text())
    assert {"threshold", "precision", "recall", "fbeta"} <= op.keys() and op["threshold"] == 0.9
    assert op["expert"]["precision_lo"] <= op["expert"]["precision"] <= op["expert"]["precision_hi"]
    assert s["n_train"] + s["n_val"] + s["n_test"] + s["n_expert_overlap_dropped"] == s["n_valid"]
    assert not (artifacts.stage_dir(cfg, artifacts.CLASSIFIER) / "_run").exists()


def test_cli_one_class_labels_is_a_one_line_error(small_stage, capsys):
    from definemed.cli import main

    cfg, cfg_path = small_stage
    pd.DataFrame({"id": ["a", "b"], "label": np.array([1, -1], np.int8)}).to_parquet(cfg.stage_dir("01_label") / "labels.parquet")
    stages.register(cfg, artifacts.LABEL)  # hand-made labels stand for stage 01
    with pytest.raises(SystemExit) as e:
        main(["classifier-train", "--profile", str(cfg_path)])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "only class" in err and "\n" not in err
