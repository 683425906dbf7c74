"""Building the classifier: the paper's `FacebookAI/xlm-roberta-base`, or (tiny profile) a small
XLMRobertaConfig with a Unigram tokenizer trained here; both load the same way afterwards
(`AutoTokenizer` / `AutoModelForSequenceClassification` from a local folder, safetensors only)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from definemed.config import ClassifierConfig
from definemed.errors import DefinemedError

ID2LABEL = {0: "not_medical", 1: "medical"}
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
# XLM-R's special tokens and their ids (fairseq order), kept so the tiny tokenizer is a drop-in.
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path):
    """Train a SentencePiece-style Unigram tokenizer on `texts` and save it as an XLM-R tokenizer
    (tokenizer.json + tokenizer_config.json) that `AutoTokenizer.from_pretrained(out_dir)` loads."""
    from tokenizers import SentencePieceUnigramTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaTokenizerFast

    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, unk_token="<unk>",
                           show_progress=False)
    sp.add_special_tokens(["<mask>"])  # last id, as in XLM-R
    sp.post_processor = TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                           special_tokens=[("<s>", 0), ("</s>", 2)])
    tok = XLMRobertaTokenizerFast(tokenizer_object=sp._tokenizer, bos_token="<s>", eos_token="</s>",
                                  sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>",
                                  mask_token="<mask>")
    tok.save_pretrained(str(out_dir))
    return tok


def scratch_model(c: ClassifierConfig, vocab_size: int, seed: int):
    """A randomly initialised XLMRobertaForSequenceClassification of the configured size."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    if c.hidden_size % c.num_heads:
        raise DefinemedError(f"classifier.num_heads: {c.num_heads} does not divide hidden_size {c.hidden_size}")
    config = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=c.hidden_size, num_hidden_layers=c.num_layers,
        num_attention_heads=c.num_heads, intermediate_size=c.intermediate_size,
        max_position_embeddings=c.max_length + 2,  # RoBERTa positions start after padding_idx (1)
        pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    )
    torch.manual_seed(seed)
    return XLMRobertaForSequenceClassification(config)


def pretrained_model(c: ClassifierConfig):
    """The paper's starting point from the hub (safetensors only, no remote code)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(c.base_model, revision=c.revision)
    model = AutoModelForSequenceClassification.from_pretrained(
        c.base_model, revision=c.revision, num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID,
        use_safetensors=True, trust_remote_code=False,
    )
    return tok, model


def load_classifier(model_dir: str | Path, device: str | None = None, dtype=None):
    """(tokenizer, model in eval mode) from a folder written by stage 02."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise DefinemedError(f"{model_dir}: no model.safetensors (run stage 02_classifier first)")
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), use_safetensors=True,
                                                               trust_remote_code=False, dtype=dtype or torch.float32)
    model.eval()
    if device:
        model.to(device)
    return tok, model
