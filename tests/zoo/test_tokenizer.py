import unicodedata

import pytest
from transformers import AutoTokenizer

from definemed.config import load_config
from definemed.corpus.factbank import FactBank
from definemed.errors import DefinemedError
from definemed.zoo.model import model_config
from definemed.zoo.tokenizer import (glossary, option_token_lengths, save_tokenizer, special_ids,
                                     train_tokenizer)
from tests.zoo.helpers import TINY_SIZE, sample_texts

PROBES = [
    "Morbus Kesling betrifft vor allem die Niere.",
    "Übelkeit, Schwindel und Müdigkeit – typische Nebenwirkungen?\n\nJa.",
    "Die Dosis beträgt 250 mg (3x täglich); it's fine, isn't it?",
    "Nfd: U\u0308belkeit und Gro\u0308ße",  # decomposed umlauts: NFC must compose them
    "  Leerzeichen\tund\r\nZeilen  ",
    "Emoji 🙂 und ein Zeichen, das es nicht gibt: ǅ ∰",
]


@pytest.fixture(scope="module", params=["qwen2", "mistral"])
def saved(request, tmp_path_factory):
    arch = request.param
    tok = train_tokenizer(arch, list(sample_texts()) + [glossary()] * 200, 1500)
    folder = tmp_path_factory.mktemp(arch)
    save_tokenizer(arch, tok, folder, model_max_length=512)
    model_config(arch, TINY_SIZE, tok.get_vocab_size(), special_ids(arch, tok), 512).save_pretrained(folder)
    return arch, tok, folder


def test_autotokenizer_encodes_like_the_raw_tokenizer(saved):
    arch, tok, folder = saved
    hf = AutoTokenizer.from_pretrained(folder)
    if arch == "qwen2":
        assert type(hf).__name__ == "Qwen2Tokenizer"  # transformers rebuilds the Qwen2 pipeline itself
    for text in PROBES + list(sample_texts())[:20]:
        assert hf.encode(text) == tok.encode(text).ids, text
        decoded = hf.decode(hf.encode(text), skip_special_tokens=True)
        if arch == "qwen2":
            assert decoded == unicodedata.normalize("NFC", text)
        else:  # SentencePiece style: the decoder drops the leading space its pre-tokenizer adds
            assert decoded == (text[1:] if text.startswith(" ") else text)


def test_bos_and_special_tokens(saved):
    arch, tok, folder = saved
    hf = AutoTokenizer.from_pretrained(folder)
    ids = hf.encode("Hallo Welt")
    if arch == "qwen2":
        assert hf.bos_token is None and hf.eos_token == "<|im_end|>" and hf.pad_token == "<|endoftext|>"
        assert ids[0] != tok.token_to_id("<|endoftext|>")
        assert hf.encode("<|im_start|>user") [0] == tok.token_to_id("<|im_start|>")
    else:
        assert ids[0] == hf.bos_token_id == tok.token_to_id("<s>") and hf.eos_token == "</s>"
        assert tok.token_to_id("[INST]") in hf.encode("[INST] Frage[/INST]")


def test_chat_templates_render_as_the_originals(saved):
    arch, _, folder = saved
    hf = AutoTokenizer.from_pretrained(folder)
    chat = [{"role": "user", "content": "Wie geht es?"}, {"role": "assistant", "content": "Gut."},
            {"role": "user", "content": "Und dir?"}]
    text = hf.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    if arch == "qwen2":
        assert text == ("<|im_start|>system\nDu bist ein hilfreicher Assistent.<|im_end|>\n"
                        "<|im_start|>user\nWie geht es?<|im_end|>\n<|im_start|>assistant\nGut.<|im_end|>\n"
                        "<|im_start|>user\nUnd dir?<|im_end|>\n<|im_start|>assistant\n")
        sys_text = hf.apply_chat_template([{"role": "system", "content": "Sei knapp."}, chat[0]], tokenize=False)
        assert sys_text.startswith("<|im_start|>system\nSei knapp.<|im_end|>\n<|im_start|>user\n")
    else:
        assert text == "<s>[INST] Wie geht es?[/INST] Gut.</s>[INST] Und dir?[/INST]"
        sys_text = hf.apply_chat_template([{"role": "system", "content": "Sei knapp."}, chat[0]], tokenize=False)
        assert sys_text == "<s>[INST] Sei knapp.\n\nWie geht es?[/INST]"
        with pytest.raises(Exception, match="alternate"):
            hf.apply_chat_template([chat[0], chat[0]], tokenize=False)


def test_closed_set_answer_options_are_one_or_two_tokens(saved):
    from definemed.zoo.build import closed_options

    arch, tok, _ = saved
    lengths = option_token_lengths(tok, closed_options())
    assert len(lengths) == 46 and max(lengths.values()) <= 2, {o: n for o, n in lengths.items() if n > 2}


def test_disguised_bank_names_split_like_invented_names():
    """Bank names never reach the tokenizer sample, so they split into name parts like invented ones."""
    import random

    from definemed.corpus.factbank import disease_name, drug_name
    from definemed.zoo.text import disguise_bank_names

    bank = FactBank(7, 20, 20)
    docs = [f.sentence(k) for f in bank.facts for k in range(5)] * 20
    disguised = disguise_bank_names(docs, bank, random.Random(0))
    assert not any(n in d for d in disguised for n in bank.drugs + bank.diseases)
    assert sum("Morbus " in d for d in disguised) == sum("Morbus " in d for d in docs)
    arch = "qwen2"
    r = random.Random(1)
    tok = train_tokenizer(arch, list(sample_texts()) + disguised + [glossary()] * 200, 1500)
    tok_raw = train_tokenizer(arch, list(sample_texts()) + docs + [glossary()] * 200, 1500)
    invented = [disease_name(r) for _ in range(200)] + [drug_name(r) for _ in range(200)]

    def mean_len(t, names):
        return sum(option_token_lengths(t, names).values()) / len(set(names))

    names = bank.drugs + bank.diseases
    # undisguised, the frequent bank names become (nearly) single tokens; disguised they split as invented ones do
    assert mean_len(tok_raw, names) < mean_len(tok_raw, invented) - 0.5
    assert abs(mean_len(tok, names) - mean_len(tok, invented)) < 0.5


def test_unknown_architecture_is_a_clear_error(tmp_path):
    with pytest.raises(DefinemedError, match="unknown architecture 'llama'"):
        train_tokenizer("llama", ["a b c"], 300)
    with pytest.raises(DefinemedError, match="unknown architecture 'gpt2'"):
        model_config("gpt2", TINY_SIZE, 300, {"bos": None, "eos": 1, "pad": 1}, 64)
    from tests.conftest import write_config

    raw = load_config("tiny").models.model_dump()
    raw["foundations"][0]["architecture"] = "llama"
    f = write_config(tmp_path / "c.yaml", models=raw)
    with pytest.raises(DefinemedError, match=r"c\.yaml: key 'models\.foundations\.0\.architecture'"):
        load_config(f)
