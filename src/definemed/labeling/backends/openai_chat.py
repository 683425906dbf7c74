"""The `openai` backend: any OpenAI-compatible chat-completions endpoint (vLLM, TGI, SGLang, llama.cpp).

asyncio + aiohttp with `concurrency` requests in flight. Per document:
- timeouts, connection errors, HTTP 429 / 5xx and malformed response bodies are retried with
  exponential backoff and jitter (`retries` extra attempts);
- an answer without a label word is asked again (`parse_retries`), then recorded invalid (-1);
- a response body that is still not valid JSON after the retries is recorded invalid with the body;
- a reply whose content is not a string (`"content": 12345`), is empty or names no label is recorded
  invalid with its reason in the record's notes, never an exception;
- HTTP 401 / 403 / 404 stop the run at once (wrong key, URL or model name: nothing can succeed);
- a document with no answer after every retry is a failure: not recorded (a rerun retries it), and
  `max_consecutive_failures` failures in a row with no success stop the run (the server is down).
P(medical) comes from the first answer token's top log-probabilities when the server returns them.
The API key is read by the caller from an environment variable; every string taken from a reply
passes `definemed.redact.redact` (the key, bearer tokens, sk-... strings) before it is stored or shown.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import random
import time

from definemed.errors import DefinemedError
from definemed.labeling.backends.base import AnnotateResult, Annotator, Doc, Emit, Failure
from definemed.labeling.prompt import Prompt, parse_answer
from definemed.labeling.store import Record
from definemed.redact import redact

FATAL_STATUS = {401: "unauthorized (check the API key variable)", 403: "forbidden (check the API key variable)",
                404: "not found (check label.openai.base_url and label.model)"}


class ServerRefused(DefinemedError):
    """The endpoint cannot be used at all (fatal status or every request failing)."""


def run_coroutine(coro):
    """asyncio.run, also from inside a running loop (a Jupyter kernel): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(asyncio.run, coro).result()


def label_prob(data: dict, positive: str, negative: str) -> float | None:
    """P(positive) / (P(positive) + P(negative)) from the first answer token's top log-probabilities.

    A candidate token counts for a word if its stripped, lower-cased text is a non-empty prefix of
    that word and not of the other ("J", "Ja", " JA" for JA). None if the server sent no log-probs
    or neither word is among the alternatives (e.g. a chatty answer starting with "Die").
    """
    try:
        top = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    pos, neg = positive.lower(), negative.lower()
    mass = {1: 0.0, 0: 0.0}
    for alt in top or []:
        try:
            tok, lp = str(alt["token"]).strip().lower(), float(alt["logprob"])
        except (KeyError, TypeError, ValueError):
            continue
        if not tok:
            continue
        p_pos, p_neg = pos.startswith(tok), neg.startswith(tok)
        if p_pos != p_neg:
            mass[1 if p_pos else 0] += math.exp(lp)
    total = mass[0] + mass[1]
    return mass[1] / total if total > 0 else None


def invalid_reason(answer) -> str:
    """Why a reply gives no label: the reason recorded in an invalid record's notes."""
    if answer is None:
        return "no content in the reply"
    if not isinstance(answer, str):
        return f"non-string content ({type(answer).__name__})"
    if not answer.strip():
        return "empty reply"
    return "no label word in the reply"


class OpenAIAnnotator(Annotator):
    name = "openai"
    has_prob = True

    def __init__(self, prompt: Prompt, positive: str, negative: str, *, base_url: str, model: str,
                 api_key: str | None = None, concurrency: int = 64, timeout_s: float = 120.0,
                 retries: int = 5, backoff_s: float = 1.0, backoff_max_s: float = 60.0,
                 parse_retries: int = 1, max_tokens: int = 8, temperature: float = 0.0,
                 logprobs: bool = True, top_logprobs: int = 5, max_consecutive_failures: int = 32,
                 seed: int = 0):
        super().__init__(prompt, positive, negative)
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.concurrency, self.timeout_s = concurrency, timeout_s
        self.retries, self.parse_retries = retries, parse_retries
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.max_tokens, self.temperature = max_tokens, temperature
        self.logprobs, self.top_logprobs = logprobs, top_logprobs
        self.max_consecutive_failures = max_consecutive_failures
        self._rng = random.Random(seed)

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIAnnotator(url={self.url!r}, model={self.model!r}, concurrency={self.concurrency})"

    def describe(self) -> str:
        return f"openai-compatible server {self.url} (model {self.model}, {self.concurrency} requests in flight)"

    def short_name(self) -> str:
        return self.model.split("/")[-1]

    def _clean(self, text) -> str:
        """One line, and never a secret (even if a server echoes the request's header back)."""
        return " ".join(redact(text, [self._api_key]).split())

    def _keep(self, text) -> str:
        """A reply's text as stored in a record: secrets removed, line breaks kept."""
        return redact(text, [self._api_key])

    def _payload(self, doc: Doc) -> bytes:
        body = {"model": self.model, "messages": [{"role": "user", "content": self.prompt.render(doc.text)}],
                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.logprobs:
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    def _delay(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * 2 ** attempt) * (0.5 + 0.5 * self._rng.random())

    async def _label_one(self, session, doc: Doc) -> Record | Failure:
        import aiohttp

        t0 = time.perf_counter()
        payload = self._payload(doc)
        transport_left, parse_left, attempts, error = self.retries, self.parse_retries, 0, ""
        while True:
            attempts += 1
            retryable_body = None
            try:
                async with session.post(self.url, data=payload) as resp:
                    status = resp.status
                    text = await resp.text(errors="replace")
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as e:
                error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            else:
                if status in FATAL_STATUS:
                    raise ServerRefused(f"{self.url}: HTTP {status} {FATAL_STATUS[status]}; "
                                        f"server said: {self._clean(text)[:200]!r}")
                if status == 200:
                    try:
                        data = json.loads(text)
                        answer = data["choices"][0]["message"]["content"]
                    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                        error, retryable_body = "malformed response body", text
                    else:
                        label, reason = parse_answer(answer, self.positive, self.negative), None
                        if label is None:
                            reason = invalid_reason(answer)
                            if parse_left > 0:
                                parse_left -= 1
                                continue
                        prob = label_prob(data, self.positive, self.negative) if self.logprobs else None
                        return Record(doc.id, -1 if label is None else label, prob,
                                      self._keep(answer if isinstance(answer, str) else "" if answer is None else json.dumps(answer)),
                                      self.name, time.perf_counter() - t0, "ok" if label is not None else "invalid",
                                      attempts, list(doc.notes) + ([reason] if reason else []))
                elif status == 429 or status >= 500:
                    error = f"HTTP {status}"
                else:  # 400 / 413 / 422: this request will not succeed when repeated
                    return Failure(doc, self._clean(f"HTTP {status}: {text}")[:220], attempts)
            if transport_left > 0:
                await asyncio.sleep(self._delay(self.retries - transport_left))
                transport_left -= 1
                continue
            if retryable_body is not None:  # the server answered, but never with a readable body
                return Record(doc.id, -1, None, self._keep(retryable_body)[:500], self.name, time.perf_counter() - t0,
                              "invalid", attempts, list(doc.notes) + ["malformed response body"])
            return Failure(doc, self._clean(error), attempts)

    async def annotate_async(self, docs: list[Doc], emit: Emit) -> AnnotateResult:
        import aiohttp

        result = AnnotateResult()
        queue: asyncio.Queue[Doc] = asyncio.Queue()
        for d in docs:
            queue.put_nowait(d)
        state = {"consecutive": 0, "ok": 0}
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)

        async def worker(session):
            while not queue.empty():
                doc = queue.get_nowait()
                out = await self._label_one(session, doc)
                if isinstance(out, Failure):
                    result.failed.append(out)
                    state["consecutive"] += 1
                    if state["consecutive"] >= self.max_consecutive_failures:
                        raise ServerRefused(
                            f"{self.url}: {state['consecutive']} documents in a row got no answer after "
                            f"{self.retries} retries (last: {out.error}); is the server running and reachable?")
                else:
                    state["consecutive"] = 0
                    state["ok"] += 1
                    emit(out)

        async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:
            try:
                async with asyncio.TaskGroup() as tg:
                    for _ in range(min(self.concurrency, len(docs))):
                        tg.create_task(worker(session))
            except BaseExceptionGroup as eg:  # surface the first real error, not the group
                raise eg.exceptions[0] from None
        result.stats = {"answered": state["ok"], "failed": len(result.failed)}
        return result

    def annotate(self, docs: list[Doc], emit: Emit) -> AnnotateResult:
        return run_coroutine(self.annotate_async(docs, emit))
