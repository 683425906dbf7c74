"""Perplexity and instruction-format rate on a tiny random model with a chat template."""
import math

import pytest
import torch

from definemed.errors import DefinemedError
from definemed.lm_metrics import format_rate, load_causal_lm, perplexity
from tests.factories import model_config, write_random_model, write_tokenizer

TEXTS = ["Der Patient erhielt Ibuprofen gegen die Schmerzen.", "Das Wetter in Berlin ist heute sonnig und warm."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("lm")
    write_random_model(d, model_config("llama", vocab_size=300, eos_token_id=2))
    write_tokenizer(d, TEXTS * 20, vocab_size=300)
    return load_causal_lm(d)


def _token_file(tok, texts, path):
    from definemed.packing import write_token_file

    write_token_file(([tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                      for t in texts), path)
    return path


def test_perplexity_is_exp_of_the_mean_token_nll_of_each_document(tiny, tmp_path):
    model, tok = tiny
    tf = _token_file(tok, TEXTS, tmp_path / "heldout")
    res = perplexity(model, tf, seq_len=64, batch_size=2)  # both documents packed into one sequence
    manual_nll, n = 0.0, 0
    for t in TEXTS:  # each document on its own: packing must not let one attend to the other
        ids = torch.tensor([[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]])
        with torch.no_grad():
            out = model(input_ids=ids, labels=ids)
        manual_nll += float(out.loss) * (ids.shape[1] - 1)
        n += ids.shape[1] - 1
    assert res["tokens"] == n and res["docs"] == 2
    assert res["ppl"] == pytest.approx(math.exp(manual_nll / n), rel=1e-4)
    assert 1 < res["ppl"] < 10 * len(tok)  # random model: near the vocabulary size


def test_format_rate_counts_answers_that_end_with_end_of_turn(tiny):
    model, tok = tiny
    with torch.no_grad():
        model.model.norm.weight.zero_()  # all logits 0: greedy decoding emits token 0 (<pad>) forever
    try:
        assert format_rate(model, tok, ["Hallo?", "Wie geht es?"], max_new_tokens=4)["rate"] == 0.0
        model.generation_config.eos_token_id = [2, 0]  # now token 0 ends the turn
        res = format_rate(model, tok, ["Hallo?", "Wie geht es?", "Was ist Fieber?"], max_new_tokens=4)
        assert res["rate"] == 1.0 and res["mean_new_tokens"] == 1.0
    finally:
        model.generation_config.eos_token_id = 2


def test_bad_input(tmp_path, tiny):
    with pytest.raises(DefinemedError, match="config.json"):
        load_causal_lm(tmp_path)
    from definemed.packing import write_token_file

    write_token_file(iter([]), tmp_path / "empty")
    with pytest.raises(DefinemedError, match="empty token file"):
        perplexity(tiny[0], tmp_path / "empty", seq_len=16)
