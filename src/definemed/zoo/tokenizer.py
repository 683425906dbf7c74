"""Tokenizers of the tiny zoo, trained here with `tokenizers` on the synthetic corpus.

Two families, shaped like the originals so that later stages meet the same behaviour:
- qwen2: byte-level BPE, no BOS, ChatML chat template, end of turn `<|im_end|>`. Transformers 5.x
  ignores the saved pipeline of a `qwen2` folder and rebuilds it (`Qwen2Tokenizer`: Qwen's
  pre-tokenizer regex, NFC, byte level), so we train with exactly that pipeline and both paths agree.
- mistral: SentencePiece-style BPE (metaspace `▁`, byte fallback), BOS `<s>` added to every text,
  `[INST] ... [/INST]` chat template, end of turn `</s>`.
A vocabulary of about 2k tokens keeps every answer option of the fact bank at 1-2 tokens
(see docs/zoo.md; measured in `option_token_lengths`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from definemed.errors import DefinemedError

# Qwen2's pre-tokenizer regex, as transformers.models.qwen2.tokenization_qwen2.PRETOKENIZE_REGEX.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MISTRAL_SPECIALS = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
DEFAULT_SYSTEM = "Du bist ein hilfreicher Assistent."
"""Qwen2.5 inserts a default system turn; ours is German because the tiny vocabulary is German."""

# ChatML as in Qwen2.5-Instruct (tools dropped), with a German default system message.
QWEN2_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{%- if message['role'] not in ['user', 'assistant'] %}"
    "{{- raise_exception('Only user and assistant roles follow the first (system) message') }}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Mistral-7B-Instruct-v0.3's template, reduced: a system message is prepended to the first user turn.
MISTRAL_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}"
    "{%- else %}{%- set system_message = '' %}{%- set loop_messages = messages %}{%- endif %}"
    "{{- bos_token }}"
    "{%- for message in loop_messages %}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{%- endif %}"
    "{%- if message['role'] == 'user' %}"
    "{%- if loop.first and system_message != '' %}"
    "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
    "{%- else %}{{- ' ' + message['content'] + eos_token }}{%- endif %}"
    "{%- endfor %}"
)

FAMILIES = ("qwen2", "mistral")


def check_family(arch: str, where: str = "models.foundations[].architecture") -> str:
    if arch not in FAMILIES:
        raise DefinemedError(f"{where}: unknown architecture '{arch}' (known: {', '.join(FAMILIES)})")
    return arch


def train_tokenizer(arch: str, texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Train the raw tokenizer of one family on `texts` (deterministic for the same texts)."""
    check_family(arch)
    if arch == "qwen2":
        tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False, fuse_unk=False))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=2, show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[AddedToken(t, special=True, normalized=False) for t in QWEN2_SPECIALS],
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return tok
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0),
    ])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, show_progress=False, limit_alphabet=120,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in MISTRAL_SPECIALS] + byte_tokens,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # The byte tokens were listed as special only to reserve their ids; as in Llama/Mistral they are
    # ordinary vocabulary entries (decoded by ByteFallback, not dropped with the special tokens).
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in MISTRAL_SPECIALS]
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))],
    )
    return tok


def special_ids(arch: str, tok: Tokenizer) -> dict[str, int | None]:
    """bos / eos (end of turn) / pad / end-of-text ids of a family."""
    check_family(arch)
    if arch == "qwen2":
        eot = tok.token_to_id("<|endoftext|>")
        return {"bos": None, "eos": tok.token_to_id("<|im_end|>"), "pad": eot, "eot": eot}
    eos = tok.token_to_id("</s>")
    return {"bos": tok.token_to_id("<s>"), "eos": eos, "pad": eos, "eot": eos}


def save_tokenizer(arch: str, tok: Tokenizer, folder: str | Path, model_max_length: int) -> None:
    """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json and chat_template.jinja."""
    from transformers import PreTrainedTokenizerFast

    check_family(arch)
    folder = Path(folder)
    if arch == "qwen2":
        kw = dict(eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None, bos_token=None,
                  additional_special_tokens=["<|im_start|>", "<|im_end|>"], chat_template=QWEN2_CHAT_TEMPLATE)
        cls = "Qwen2Tokenizer"
    else:
        kw = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>",
                  additional_special_tokens=["[INST]", "[/INST]"], chat_template=MISTRAL_CHAT_TEMPLATE)
        # Loaded as given (TokenizersBackend); LlamaTokenizer would rebuild its own metaspace settings.
        cls = "TokenizersBackend"
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=model_max_length,
                                 clean_up_tokenization_spaces=False, **kw)
    hf.save_pretrained(folder)
    cfg_file = folder / "tokenizer_config.json"
    tc = json.loads(cfg_file.read_text(encoding="utf-8"))
    tc["tokenizer_class"] = cls
    tc["add_bos_token"] = arch == "mistral"
    tc["add_eos_token"] = False
    if not (folder / "chat_template.jinja").exists() and "chat_template" not in tc:
        tc["chat_template"] = kw["chat_template"]
    cfg_file.write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def option_token_lengths(tok: Tokenizer, options: Iterable[str], add_special: bool = False) -> dict[str, int]:
    """Tokens per answer option as scored in a cloze (a leading space, as in running text)."""
    return {o: len(tok.encode(" " + o, add_special_tokens=add_special).ids) for o in sorted(set(options))}


def glossary() -> str:
    """Every closed-set answer option of the fact bank (drug classes, side effects, organs, causes,
    symptoms) as one line of text to weight the tokenizer's training data. Entity names are left out on
    purpose: they split into name parts like every invented name (`zoo.text.disguise_bank_names`)."""
    from definemed.corpus import factbank as fb

    objects = [o for pool in fb.OBJECTS_BY_RELATION.values() for o in pool]
    return " " + " ".join(objects)  # leading space: options follow a space in running text
