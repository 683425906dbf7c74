"""The `transformers` backend: a local causal LM with its chat template, batched.

The prompt goes in as one user message (`apply_chat_template(..., add_generation_prompt=True)`), the
model runs one forward pass per left-padded batch, and the label is read from the next-token
distribution at the last position: P(medical) = P(positive first tokens) / (P(positive) + P(negative)),
where each word's first tokens are those of "JA" and " JA" (with and without a leading space).
The raw record keeps both probabilities and the share of the whole distribution they cover
(`mass`), which says how well the model follows the answer format.
"""
from __future__ import annotations

import time
from pathlib import Path

from definemed.errors import DefinemedError
from definemed.labeling.backends.base import AnnotateResult, Annotator, Doc, Emit
from definemed.labeling.prompt import Prompt
from definemed.labeling.store import Record


def first_token_ids(tokenizer, word: str) -> set[int]:
    """The first token of `word` with and without a leading space."""
    out = set()
    for variant in (word, " " + word):
        ids = tokenizer(variant, add_special_tokens=False)["input_ids"]
        if ids:
            out.add(ids[0])
    return out


class TransformersAnnotator(Annotator):
    name = "transformers"
    has_prob = True

    def __init__(self, prompt: Prompt, positive: str, negative: str, *, model, tokenizer,
                 batch_size: int = 8, max_prompt_tokens: int = 4096, decision_threshold: float = 0.5):
        super().__init__(prompt, positive, negative)
        self.model, self.tok = model.eval(), tokenizer
        self.batch_size, self.max_prompt_tokens, self.threshold = batch_size, max_prompt_tokens, decision_threshold
        if getattr(tokenizer, "chat_template", None) is None:
            raise DefinemedError(f"{getattr(tokenizer, 'name_or_path', 'tokenizer')}: the tokenizer has no chat template")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # the last position must be the prompt's last token
        pos, neg = first_token_ids(tokenizer, positive), first_token_ids(tokenizer, negative)
        shared = pos & neg
        self.pos_ids, self.neg_ids = sorted(pos - shared), sorted(neg - shared)
        if not self.pos_ids or not self.neg_ids:
            raise DefinemedError(f"label.positive_word / negative_word: '{positive}' and '{negative}' start "
                                 "with the same token for this tokenizer; choose words that differ at once")
        self._overhead = len(self._ids(self.format("")))

    @classmethod
    def from_pretrained(cls, prompt: Prompt, positive: str, negative: str, path: str, *, dtype: str = "auto",
                        device: str = "auto", trust_remote_code: bool = False, **kw) -> "TransformersAnnotator":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        if Path(path).is_dir() and not list(Path(path).glob("*.safetensors")):
            raise DefinemedError(f"{path}: no .safetensors weights (pickled .bin checkpoints are not loaded)")
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), use_safetensors=True,
                                                     trust_remote_code=trust_remote_code).to(device)
        return cls(prompt, positive, negative, model=model, tokenizer=tok, **kw)

    def describe(self) -> str:
        return f"local causal LM {getattr(self.model.config, '_name_or_path', '') or type(self.model).__name__} (batch {self.batch_size})"

    def short_name(self) -> str:
        name = getattr(self.model.config, "_name_or_path", "") or type(self.model).__name__
        return str(name).rstrip("/").split("/")[-1]

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def format(self, document: str) -> str:
        """The chat-formatted prompt text, ending where the assistant's answer begins."""
        return self.tok.apply_chat_template([{"role": "user", "content": self.prompt.render(document)}],
                                            tokenize=False, add_generation_prompt=True)

    def _fit(self, document: str) -> str:
        budget = self.max_prompt_tokens - self._overhead
        ids = self._ids(document)
        if len(ids) <= budget:
            return document
        return self.tok.decode(ids[: max(budget, 0)]) + " […]"

    def next_token_probs(self, texts: list[str]):
        """(P(positive), P(negative)) per formatted prompt, from one batched forward pass."""
        import torch

        enc = self.tok(texts, add_special_tokens=False, padding=True, return_tensors="pt").to(self.model.device)
        with torch.inference_mode():
            logits = self.model(**enc).logits[:, -1, :].float()
        probs = torch.softmax(logits, dim=-1)
        return probs[:, self.pos_ids].sum(-1).cpu(), probs[:, self.neg_ids].sum(-1).cpu()

    def annotate(self, docs: list[Doc], emit: Emit) -> AnnotateResult:
        for i in range(0, len(docs), self.batch_size):
            batch = docs[i: i + self.batch_size]
            t0 = time.perf_counter()
            p_pos, p_neg = self.next_token_probs([self.format(self._fit(d.text)) for d in batch])
            dt = (time.perf_counter() - t0) / len(batch)
            for d, pp, pn in zip(batch, p_pos.tolist(), p_neg.tolist()):
                mass = pp + pn
                prob = pp / mass if mass > 0 else float("nan")
                ok = mass > 0
                label = int(prob >= self.threshold) if ok else -1
                raw = f"P({self.positive})={pp:.4g} P({self.negative})={pn:.4g} mass={mass:.4g}"
                emit(Record(d.id, label, prob if ok else None, raw, self.name, dt, "ok" if ok else "invalid",
                            1, list(d.notes)))
        return AnnotateResult(stats={"answered": len(docs)})
