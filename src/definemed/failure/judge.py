"""The paper profile's judge: an OpenAI-compatible chat endpoint with a versioned German rubric.

`prompts/<rubric>.md` holds a `## system` and a `## user` section; the user section is a
`str.format` template with {question}, {reference} and {answer}. The API key is read from the
environment variable `failure.judge_api_key_env` at call time and is never logged or stored: every
reply passes `definemed.redact.redact` before it is parsed, cached or shown.
A request that times out or fails gives status "timeout" / "error" for that answer, never an exception
from `run_judge`; the stage then refuses to count itself done when more than
`failure.judge_max_failed_share` of the answers are unjudged (`require_judged`), so a rerun asks again. Judgments are cached in a JSONL file keyed by rubric,
model and a hash of the input, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from definemed.progress import tqdm

from definemed import paths
from definemed.config import FailureConfig
from definemed.errors import DefinemedError
from definemed.failure.verdict import Verdict
from definemed.io import drop_partial_line
from definemed.redact import redact

MODES = ("hallucination", "overconfidence", "contradiction")
# rubric key (German) -> failure mode; a few spellings a judge model produces are accepted
_KEYS = {
    "hallucination": ("halluzination", "halluzinationen", "hallucination"),
    "overconfidence": ("ueberkonfidenz", "überkonfidenz", "uberkonfidenz", "overconfidence"),
    "contradiction": ("widerspruch", "widersprueche", "widersprüche", "contradiction"),
}
_TRUE = {"true", "ja", "yes", "1", "wahr"}
_FALSE = {"false", "nein", "no", "0", "falsch"}


@dataclass(frozen=True)
class Rubric:
    name: str
    system: str
    user: str

    def messages(self, question: str, answer: str, reference: str | None) -> list[dict]:
        text = lambda x: x if isinstance(x, str) else ""  # noqa: E731  (None / NaN from parquet -> "")
        user = self.user.format(question=text(question), answer=text(answer), reference=text(reference))
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]


def load_rubric(name: str, folder: Path | None = None) -> Rubric:
    f = (folder or paths.PROMPTS) / f"{name}.md"
    if not f.is_file():
        raise DefinemedError(f"{f}: rubric not found (failure.rubric = {name!r})")
    text = f.read_text(encoding="utf-8")
    parts = re.split(r"^## (system|user)\s*$", text, flags=re.M)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise DefinemedError(f"{f}: needs a '## system' and a '## user' section")
    for slot in ("{question}", "{answer}"):
        if slot not in sections["user"]:
            raise DefinemedError(f"{f}: the user section has no {slot} slot")
    return Rubric(name, sections["system"], sections["user"])


def _as_bool(v) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower().rstrip(".")
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


def _json_object(text: str) -> dict | None:
    t = re.sub(r"```(?:json)?", "", text)
    start = t.find("{")
    while start != -1:
        depth = 0
        for i in range(start, len(t)):
            depth += {"{": 1, "}": -1}.get(t[i], 0)
            if depth == 0:
                try:
                    obj = json.loads(t[start:i + 1])
                    return obj if isinstance(obj, dict) else None
                except json.JSONDecodeError:
                    break
        start = t.find("{", start + 1)
    return None


def parse_judgment(text: str) -> dict[str, Verdict]:
    """The three verdicts from a judge's reply: a JSON object (code fences and surrounding prose
    tolerated) or, failing that, lines like 'Halluzination: ja'. Unreadable -> status 'error'."""
    obj = _json_object(text or "")
    if obj is None:
        obj = {}
        for m in re.finditer(r"^\W*([A-Za-zÄÖÜäöüß]+)\W*\s*[:=]\s*\**\s*(\w+)", text or "", flags=re.M):
            obj[m.group(1).lower()] = m.group(2)
    low = {str(k).lower(): v for k, v in obj.items()}
    belege = low.get("belege") or low.get("evidence") or {}
    reason = str(low.get("begruendung") or low.get("begründung") or "")
    out = {}
    for mode, keys in _KEYS.items():
        raw = next((low[k] for k in keys if k in low), None)
        val = _as_bool(raw)
        if val is None:
            out[mode] = Verdict(False, [f"unreadable judge reply for '{keys[0]}': {(text or '')[:120]!r}"],
                                status="error", details={"raw": (text or "")[:500]})
            continue
        ev = belege.get(keys[0], "") if isinstance(belege, dict) else ""
        out[mode] = Verdict(val, [str(ev) or reason] if val else [], details={"reason": reason})
    return out


def _failed(status: str, msg: str) -> dict[str, Verdict]:
    return {m: Verdict(False, [msg], status=status) for m in MODES}


def _key(rubric: Rubric, model: str, item: dict) -> str:
    h = hashlib.sha256(json.dumps([rubric.name, rubric.system, rubric.user, model, item.get("question"),
                                   item.get("reference_answer"), item.get("answer")]).encode()).hexdigest()
    return h[:24]


async def _judge_one(session, sem, url: str, headers: dict, body: dict, cfg: FailureConfig,
                     keys: tuple = ()) -> dict[str, Verdict]:
    import aiohttp

    last = "no attempt"
    for attempt in range(cfg.judge_retries + 1):
        async with sem:
            try:
                async with session.post(url, json=body, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=cfg.judge_timeout_s)) as resp:
                    if resp.status != 200:
                        last = f"HTTP {resp.status}"
                        if resp.status >= 500 or resp.status == 429:
                            continue
                        return _failed("error", f"judge: {last}")
                    data = await resp.json(content_type=None)
                content = data["choices"][0]["message"]["content"]
                if not isinstance(content, str) or not content.strip():
                    return _failed("error", f"judge: reply content is {'empty' if content == '' else type(content).__name__}")
                return parse_judgment(redact(content, keys))
            except asyncio.TimeoutError:
                last = f"timeout after {cfg.judge_timeout_s:g} s"
            except (aiohttp.ClientError, KeyError, IndexError, TypeError, ValueError) as e:
                last = f"{type(e).__name__}"
    return _failed("timeout" if last.startswith("timeout") else "error", f"judge: {last} ({cfg.judge_retries + 1} attempts)")


async def _judge_all(items: list[dict], cfg: FailureConfig, rubric: Rubric, todo: list[int], cache: Path | None,
                     results: list) -> None:
    import aiohttp

    url = cfg.judge_base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(cfg.judge_api_key_env)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    sem = asyncio.Semaphore(cfg.judge_concurrency)
    async with aiohttp.ClientSession() as session:
        async def run(i: int):
            it = items[i]
            body = {"model": cfg.judge_model, "temperature": 0.0, "max_tokens": 400,
                    "messages": rubric.messages(it.get("question", ""), it.get("answer", ""), it.get("reference_answer"))}
            return i, await _judge_one(session, sem, url, headers, body, cfg, (key,))

        tasks = [asyncio.ensure_future(run(i)) for i in todo]
        for fut in tqdm(asyncio.as_completed(tasks), total=len(tasks), desc="judge", unit="answer"):
            i, verdicts = await fut
            results[i] = verdicts
            if cache is not None and all(v.status == "ok" for v in verdicts.values()):
                # timeouts, server errors and unreadable replies are not cached: a rerun retries them
                with cache.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": _key(rubric, cfg.judge_model, items[i]),
                                         "verdicts": {m: v.__dict__ for m, v in verdicts.items()}},
                                        ensure_ascii=False) + "\n")


def run_judge(items: list[dict], cfg: FailureConfig, cache: Path | None = None,
              rubric: Rubric | None = None) -> list[dict[str, Verdict]]:
    """Judge every item ({question, answer, reference_answer}); empty answers are not sent."""
    rubric = rubric or load_rubric(cfg.rubric)
    cached: dict[str, dict] = {}
    if cache is not None and cache.exists():
        for line in cache.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                cached[rec["key"]] = {m: Verdict(**v) for m, v in rec["verdicts"].items()}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a torn last line from an interrupted run
    results: list = [None] * len(items)
    todo = []
    for i, it in enumerate(items):
        if not (it.get("answer") or "").strip():
            results[i] = _failed("empty", "empty answer")
        elif (k := _key(rubric, cfg.judge_model, it)) in cached:
            results[i] = cached[k]
        else:
            todo.append(i)
    if todo:
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            drop_partial_line(cache)  # an interrupted run's torn last line: appends start on a new line
        coro = _judge_all(items, cfg, rubric, todo, cache, results)
        # a notebook kernel already runs an event loop: run ours in a worker thread
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            ex.submit(asyncio.run, coro).result()
    return results


UNJUDGED = ("timeout", "error")


def require_judged(results: list[dict[str, Verdict]], cfg: FailureConfig, cache: Path | None = None) -> None:
    """DefinemedError (the stage fails, is not recorded done, and its rerun asks the judge again for
    these answers only) when more than `cfg.judge_max_failed_share` of the answers got no verdict."""
    bad = [r for r in results if any(v.status in UNJUDGED for v in r.values())]
    if results and len(bad) > cfg.judge_max_failed_share * len(results):
        first = next(v for v in bad[0].values() if v.status in UNJUDGED)
        kept = f"; the {len(results) - len(bad)} judged are cached in {cache}" if cache is not None else ""
        raise DefinemedError(
            f"failure.judge: {len(bad)} of {len(results)} answers not judged ({first.status}: "
            f"{(first.evidence or ['?'])[0]}){kept}; rerun to ask again, or raise failure.judge_max_failed_share")
