"""The scorer's first-token-only last layer gives the model's own logits (a tiny random XLM-R, built here)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from definemed.classifier.inference import Scorer, _cls_only, cls_logits


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from definemed.classifier.model import scratch_model, train_tokenizer
    from definemed.config import load_config

    root = tmp_path_factory.mktemp("clf")
    c = load_config("tiny").classifier.model_copy(update={"hidden_size": 32, "num_layers": 3, "num_heads": 4,
                                                          "intermediate_size": 64, "max_length": 64, "vocab_size": 200})
    texts = [f"Der Patient {i} bekommt eine Therapie gegen Fieber und Husten, Dosis {i % 7} mg." for i in range(200)]
    tok = train_tokenizer(texts, c.vocab_size, root)
    scratch_model(c, len(tok), seed=0).save_pretrained(str(root))
    return root


TEXTS = ["kurz", "Die Patientin hat Fieber. " * 9, "Fußball am Wochenende", "Dosis 5 mg " * 20, "x y"]


def test_first_token_last_layer_equals_the_full_forward(model_dir):
    s = Scorer(model_dir, batch_size=8, max_length=64, torch_threads=1)
    assert s.cls_only
    enc = s.tokenizer(TEXTS, truncation=True, max_length=64, padding=True, return_tensors="pt")
    with torch.inference_mode():
        full = s.model(**enc).logits
        ours = cls_logits(s.model, enc["input_ids"], enc["attention_mask"])
    assert ours.shape == full.shape
    assert torch.allclose(ours, full, atol=1e-5, rtol=1e-5)


def test_scores_match_with_and_without_the_shortcut(model_dir):
    s = Scorer(model_dir, batch_size=2, max_length=64, torch_threads=1)
    fast = s.score(TEXTS)
    s.cls_only = False
    slow = s.score(TEXTS)
    assert np.abs(fast - slow).max() < 1e-6


def test_shortcut_only_for_eval_mode_encoders(model_dir):
    s = Scorer(model_dir, batch_size=2, max_length=64, torch_threads=1)
    s.model.train()
    assert not _cls_only(s.model)
    s.model.eval()
    assert _cls_only(s.model)


def test_blank_and_short_inputs_get_no_medical_score(model_dir):
    from definemed.classifier.inference import MIN_WORDS, too_short

    assert too_short("Impressum") and too_short("Der") and too_short("  ") and too_short("eins zwei drei vier")
    assert not too_short("Die Patientin hat seit gestern Fieber.")
    s = Scorer(model_dir, batch_size=2, max_length=64, torch_threads=1)
    long_text = "Die Patientin hat Fieber und Husten seit drei Tagen."
    out = s.score(["Der", "Impressum", "", long_text, " ".join(["Fieber"] * (MIN_WORDS - 1))])
    assert out[0] == out[1] == out[2] == out[4] == 0.0 and out[3] > 0.0
    assert s.n_blank == 4
