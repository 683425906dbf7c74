"""Answers to open questions through each model's chat template.

Two backends, same output (one answer string per prompt):
- `generate_batched` (tiny / any local HF folder): transformers `generate` on batches of prompts,
  left padding so every row's continuation starts at the same position; greedy decoding; the inputs
  go to `model.device` (the first GPU of a model spread with device_map="auto").
- `OpenAIChat` (paper profile): an OpenAI-compatible `/v1/chat/completions` endpoint such as a vLLM
  server; the API key comes only from an environment variable and is never logged.
`generate_one_by_one` is the unbatched reference the generation benchmark compares against.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from definemed.progress import tqdm

from definemed.errors import DefinemedError
from definemed.redact import env_keys, redact

SYSTEM_PROMPT = "Du bist ein hilfreicher medizinischer Assistent. Antworte kurz und auf Deutsch."


def chat_prompts(tok, questions: list[str], system: str | None = SYSTEM_PROMPT) -> list[str]:
    """Render each question as one user turn with the tokenizer's chat template (generation prompt on)."""
    if not getattr(tok, "chat_template", None):
        raise DefinemedError(f"{getattr(tok, 'name_or_path', 'tokenizer')}: tokenizer has no chat template")
    out = []
    for q in questions:
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": q}]
        try:
            out.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
        except Exception:  # some templates (Mistral v0.3) reject a system turn: fold it into the user turn
            msgs = [{"role": "user", "content": f"{system}\n\n{q}" if system else q}]
            out.append(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    return out


@dataclass
class GenStats:
    n_prompts: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def _gen_kwargs(tok, max_new_tokens: int) -> dict:
    return dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id)


def _count_new(tok, rows) -> int:
    """New tokens of each generated row, up to and including the first EOS."""
    n = 0
    for row in rows:
        ids = row.tolist()
        n += ids.index(tok.eos_token_id) + 1 if tok.eos_token_id in ids else len(ids)
    return n


def generate_batched(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int,
                     stats: GenStats | None = None, desc: str = "generate", **gen_kwargs) -> list[str]:
    """Greedy answers for `prompts`, `batch_size` at a time, left-padded. Prompts are sorted by length
    so a batch holds similar lengths (less padding); answers come back in the input order."""
    return generate_with_ends(model, tok, prompts, max_new_tokens, batch_size, stats, desc, **gen_kwargs)[0]


def generate_with_ends(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int,
                       stats: GenStats | None = None, desc: str = "generate", **gen_kwargs) -> tuple[list[str], list[bool]]:
    """`generate_batched`'s answers and, per answer, whether it ended with the end-of-turn token
    (the tokenizer's EOS) within `max_new_tokens` (False: cut by the budget)."""
    import torch

    tok.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    ended: list[bool] = [False] * len(prompts)
    t0 = time.perf_counter()
    new_tokens = 0
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False):
        idx = order[start:start + batch_size]
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, **_gen_kwargs(tok, max_new_tokens), **gen_kwargs)
        gen = out[:, enc["input_ids"].shape[1]:]
        new_tokens += _count_new(tok, gen)
        for i, row in zip(idx, gen):
            answers[i] = tok.decode(row, skip_special_tokens=True).strip()
            ended[i] = tok.eos_token_id in row.tolist()
    if stats is not None:
        stats.n_prompts += len(prompts)
        stats.new_tokens += new_tokens
        stats.seconds += time.perf_counter() - t0
    return answers, ended


def generate_one_by_one(model, tok, prompts: list[str], max_new_tokens: int, stats: GenStats | None = None,
                        **gen_kwargs) -> list[str]:
    """The unbatched reference: one prompt per `generate` call (what batching is measured against)."""
    import torch

    answers = []
    t0 = time.perf_counter()
    new_tokens = 0
    for p in prompts:
        enc = tok(p, return_tensors="pt", add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, **_gen_kwargs(tok, max_new_tokens), **gen_kwargs)
        gen = out[:, enc["input_ids"].shape[1]:]
        new_tokens += _count_new(tok, gen)
        answers.append(tok.decode(gen[0], skip_special_tokens=True).strip())
    if stats is not None:
        stats.n_prompts += len(prompts)
        stats.new_tokens += new_tokens
        stats.seconds += time.perf_counter() - t0
    return answers


class OpenAIChat:
    """Minimal client of an OpenAI-compatible chat endpoint (vLLM, TGI, OpenAI). Stdlib only.

    The key is read from the environment variable named by `api_key_env` at call time; it is sent in
    the Authorization header and never stored in outputs or messages.
    """

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 120,
                 max_retries: int = 3, concurrency: int = 8):
        if not base_url:
            raise DefinemedError("evaluate.endpoint: an OpenAI-compatible base URL is required for this backend")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.timeout_s, self.max_retries, self.concurrency = timeout_s, max_retries, concurrency

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.url, data=json.dumps(payload).encode(), headers=headers, method="POST")
        last = None
        for attempt in range(self.max_retries):
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
                    return json.loads(r.read().decode())
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if e.code < 500 and e.code != 429:
                    break
            except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
                last = type(e).__name__
            time.sleep(min(2 ** attempt, 10))
        raise DefinemedError(f"{self.url}: request failed ({last}) for model '{self.model}'")

    def complete(self, messages: list[dict], max_tokens: int, temperature: float = 0.0) -> str:
        return self.complete_ended(messages, max_tokens, temperature)[0]

    def complete_ended(self, messages: list[dict], max_tokens: int, temperature: float = 0.0) -> tuple[str, bool]:
        """The reply text and whether the model ended its turn (finish_reason "stop", not "length")."""
        data = self._post({"model": self.model, "messages": messages, "max_tokens": max_tokens,
                           "temperature": temperature})
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise DefinemedError(f"{self.url}: response without choices[0].message.content") from None
        # a reply that is not text is an empty answer (judged invalid / counted), never an exception;
        # whatever the server echoes (a key, a bearer token) is removed before it is stored
        text = redact(content, env_keys(self.api_key_env)) if isinstance(content, str) else ""
        return text, choice.get("finish_reason") == "stop"

    def _map(self, fn, conversations: list[list[dict]], desc: str) -> list:
        with ThreadPoolExecutor(self.concurrency) as ex:
            return list(tqdm(ex.map(fn, conversations), total=len(conversations), desc=desc, leave=False))

    def complete_many(self, conversations: list[list[dict]], max_tokens: int, desc: str = "requests") -> list[str]:
        return self._map(lambda m: self.complete(m, max_tokens), conversations, desc)

    def answer(self, questions: list[str], max_tokens: int, system: str | None = SYSTEM_PROMPT) -> list[str]:
        return self.answer_ended(questions, max_tokens, system)[0]

    def answer_ended(self, questions: list[str], max_tokens: int,
                     system: str | None = SYSTEM_PROMPT) -> tuple[list[str], list[bool]]:
        """Answers and, per answer, whether the model ended its turn within `max_tokens`."""
        convs = [([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": q}]
                 for q in questions]
        res = self._map(lambda m: self.complete_ended(m, max_tokens), convs, f"answers {self.model}")
        return [a.strip() for a, _ in res], [e for _, e in res]
