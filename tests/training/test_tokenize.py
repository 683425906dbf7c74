"""The parallel CPU tokenization step writes exactly the token file the single-process path writes."""
import numpy as np

from definemed.corpus.factbank import FactBank
from definemed.packing import TokenFile


def test_parallel_tokenization_equals_the_single_process_token_file(tmp_path):
    from tests import factories
    from definemed.training.stage import tokenize_to_file
    from definemed.training.tokenize import tokenize_parallel

    bank = FactBank(3, 6, 6)
    texts = [f.sentence(k) for f in bank.facts for k in range(3)] + ["", "Ein kurzer Satz."]
    tok = factories.chat_tokenizer(texts, vocab_size=300)
    d = tmp_path / "tok"
    tok.save_pretrained(d)
    ref = tokenize_to_file(tok, texts, tmp_path / "ref" / "train")
    par = tokenize_parallel(d, texts, tmp_path / "par" / "train", num_proc=2, batch=7)
    assert par == ref and ref["n_docs"] == len(texts)
    a, b = TokenFile(tmp_path / "ref" / "train"), TokenFile(tmp_path / "par" / "train")
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(np.asarray(a.tokens), np.asarray(b.tokens))
    assert sorted(p.name for p in (tmp_path / "par").iterdir()) == ["train.offsets", "train.tokens"]  # cache removed
