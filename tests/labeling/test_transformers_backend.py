"""The `transformers` backend on a tiny random Llama with a byte-level BPE tokenizer and a chat
template built here (no download): prompt formatting, batching (left padding) and probabilities."""
import math

import pandas as pd
import pytest
import torch

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.labeling.annotate import run_label_stage
from definemed.labeling.backends.base import Doc
from definemed.labeling.backends.transformers_lm import TransformersAnnotator
from definemed.labeling.prompt import load_prompt
from tests.conftest import write_config
from tests.labeling.helpers import doc_text, write_corpus

CHAT_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
                 "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    prompt = load_prompt("prompts/label_medical_de.v1.txt")
    corpus = [prompt.template] + [doc_text(i, i % 2 == 0) for i in range(20)] + ["JA NEIN Ja Nein"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", "[INST]", "[/INST]"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    path = tmp_path_factory.mktemp("tiny_lm")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    torch.set_num_threads(1)  # a 2-layer model gains nothing from threads on a shared 2-core machine
    return path, prompt


@pytest.fixture
def short_prompt(tmp_path):
    f = tmp_path / "short.txt"
    f.write_text("# version: test\nIst das Dokument medizinisch? Antworte JA oder NEIN.\n<dokument>\n{document}\n</dokument>\n")
    return load_prompt(f)


def annotator(path, prompt, **kw):
    return TransformersAnnotator.from_pretrained(prompt, "JA", "NEIN", str(path), **kw)


def test_prompt_formatting(tiny_lm):
    path, prompt = tiny_lm
    a = annotator(path, prompt)
    text = a.format("Die Patientin ist krank.")
    assert text.startswith("<s>[INST] ") and text.endswith(" [/INST]")
    assert prompt.render("Die Patientin ist krank.") in text
    ids = a.tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == a.tok.bos_token_id and ids.count(a.tok.bos_token_id) == 1  # no doubled BOS
    assert a.pos_ids and a.neg_ids and not set(a.pos_ids) & set(a.neg_ids)


def test_batched_probabilities_equal_one_by_one_and_the_softmax(tiny_lm, short_prompt):
    path, prompt = tiny_lm[0], short_prompt
    docs = [Doc(f"d{i}", doc_text(i, i % 2 == 0) + " Ende." * (i * 5)) for i in range(5)]  # different lengths
    got = {}
    a = annotator(path, prompt, batch_size=3)
    a.annotate(docs, lambda r: got.setdefault(r.id, r))
    single = {}
    b = annotator(path, prompt, batch_size=1)
    b.annotate(docs, lambda r: single.setdefault(r.id, r))
    assert list(got) == [d.id for d in docs]
    for d in docs:
        assert got[d.id].prob == pytest.approx(single[d.id].prob, abs=1e-4)
        assert 0.0 <= got[d.id].prob <= 1.0 and got[d.id].label == int(got[d.id].prob >= 0.5)
        # by hand: the unpadded prompt's last-position softmax
        enc = b.tok(b.format(d.text), add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            p = torch.softmax(b.model(**enc).logits[0, -1].float(), -1)
        pp, pn = p[b.pos_ids].sum().item(), p[b.neg_ids].sum().item()
        assert got[d.id].prob == pytest.approx(pp / (pp + pn), abs=1e-4)


def test_stage_with_local_model_empty_and_english_documents(tmp_path, out_root, tiny_lm):
    path, _ = tiny_lm
    texts = [doc_text(i, i % 2 == 0) for i in range(10)]
    texts[3] = "   "
    texts[5] = "The patient is sick and receives a therapy for the inflammation of the lung, which is treated."
    write_corpus(out_root, texts, expert_every=2)
    f = write_config(tmp_path / "c.yaml", label={"backend": "transformers", "n_docs": 10,
                                                  "transformers": {"model_path": str(path), "batch_size": 4}})
    s = run_label_stage(load_config(f))
    labels = pd.read_parquet(out_root / "data" / "test" / "01_label" / "labels.parquet")
    assert len(labels) == 10 and set(labels["backend"]) == {"transformers"}
    empty = labels[labels["id"] == "<urn:test:00003>"].iloc[0]
    assert empty["label"] == -1 and math.isnan(empty["prob"])
    rest = labels[labels["id"] != "<urn:test:00003>"]
    assert rest["prob"].between(0, 1).all() and set(rest["label"]) <= {0, 1}
    assert s["n_empty"] == 1 and s["n_not_german"] == 1 and s["n_invalid"] == 1


def test_refuses_pickled_checkpoints(tmp_path, tiny_lm):
    _, prompt = tiny_lm
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\0")
    with pytest.raises(DefinemedError, match="no .safetensors weights"):
        annotator(tmp_path, prompt)
