"""Judgments are persisted as they arrive: a judge run killed midway (SIGKILL, in a subprocess) and
rerun loses no judgment and repeats none; a request that keeps failing is recorded and retried, not fatal."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from definemed.errors import DefinemedError
from definemed.evaluation.judge import LLMJudge
from definemed.evaluation.judge_store import JudgmentStore, judge_persisted, judgment_key

N = 40


def items():
    return [{"question": f"Frage {i}?", "answer_a": f"Antwort a{i}", "answer_b": f"Antwort b{i}" * (i % 3 + 1)}
            for i in range(N)]


class Client:
    """Stands in for the judge server: a verdict from the prompt's length; counts and can fail."""

    concurrency = 4

    def __init__(self, delay=0.0, fail=lambda content, n: False):
        self.delay, self.fail, self.calls = delay, fail, []

    def complete(self, messages, max_tokens):
        content = messages[0]["content"]
        self.calls.append(content)
        time.sleep(self.delay)
        if self.fail(content, sum(c == content for c in self.calls)):
            raise DefinemedError("http://judge/v1/chat/completions: request failed (HTTP 503)")
        return "Begründung. [[A]]" if len(content) % 2 else "Begründung. [[B]]"


CHILD = textwrap.dedent("""
    import sys
    sys.path[:0] = [{src!r}, {root!r}]
    from tests.evaluation.test_judge_store import Client, items
    from definemed.evaluation.judge import LLMJudge
    from definemed.evaluation.judge_store import judge_persisted
    judge_persisted(LLMJudge(Client(delay=0.05), "v1"), items(), {path!r}, "judge-model", "v1")
""")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_killed_judge_run_resumes_without_losing_or_repeating_a_judgment(tmp_path):
    path = tmp_path / "judgments.jsonl"
    root = Path(__file__).resolve().parents[2]
    code = CHILD.format(src=str(root / "src"), root=str(root), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TQDM_DISABLE": "1"})
    deadline = time.time() + 120
    while len(_lines(path)) < 12 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _lines(path)
    assert 12 <= len(before) < N, "the run must be killed midway"
    with open(path, "a") as f:
        f.write('{"key": "cut-off mid-wr')  # a line half-written at the kill
    client = Client()
    raw, info = judge_persisted(LLMJudge(client, "v1"), items(), path, "judge-model", "v1")
    done_before = {r["key"] for r in before if r["ok"]}
    assert len(client.calls) == N - len(done_before)  # only what was not recorded is asked again
    assert info["n_reused"] == len(done_before) and info["n_failed_requests"] == 0
    after = _lines(path)  # the partial line is gone, every judgment is there exactly once
    keys = [r["key"] for r in after if r["ok"]]
    want = [judgment_key(it, "llm", "judge-model", "v1") for it in items()]
    assert sorted(keys) == sorted(want) and len(keys) == len(set(keys)) == N
    fresh, _ = judge_persisted(LLMJudge(Client(), "v1"), items(), tmp_path / "fresh.jsonl", "judge-model", "v1")
    assert raw == fresh  # the resumed run gives what an uninterrupted one gives
    again = Client()
    judge_persisted(LLMJudge(again, "v1"), items(), path, "judge-model", "v1")
    assert again.calls == []  # a finished run asks nothing


def test_failed_requests_are_recorded_retried_and_not_fatal(tmp_path):
    path = tmp_path / "j.jsonl"
    flaky = Client(fail=lambda content, n: "Frage 3?" in content and n == 1)  # fails once, then works
    dead = lambda content, n: "Frage 5?" in content or "Frage 7?" in content  # noqa: E731 - always fails
    client = Client(fail=lambda c, n: flaky.fail(c, n) or dead(c, n))
    raw, info = judge_persisted(LLMJudge(client, "v1"), items(), path, "judge-model", "v1", rounds=2)
    assert info["n_failed_requests"] == 2 and "HTTP 503" in info["failed_errors"][0]
    assert raw[3] is not None and raw[5] is None and raw[7] is None and sum(r is None for r in raw) == 2
    store = JudgmentStore(path)
    assert len(store.done) == N - 2 and len(store.failures) == 2
    healed = Client()
    raw2, info2 = judge_persisted(LLMJudge(healed, "v1"), items(), path, "judge-model", "v1")
    assert len(healed.calls) == 2 and info2["n_failed_requests"] == 0 and None not in raw2


def test_a_changed_answer_is_judged_again_and_a_corrupt_file_is_an_error(tmp_path):
    path = tmp_path / "j.jsonl"
    judge_persisted(LLMJudge(Client(), "v1"), items(), path, "m", "v1")
    changed = items()
    changed[0]["answer_a"] = "eine neue Antwort"
    c = Client()
    judge_persisted(LLMJudge(c, "v1"), changed, path, "m", "v1")
    assert len(c.calls) == 1
    path.write_text('{"key": 1}\nnot json\n{"key": "x", "ok": true, "raw": "[[A]]"}\n')
    with pytest.raises(DefinemedError, match=r"j.jsonl:2: malformed judgment line"):
        JudgmentStore(path)


def test_the_rubric_judges_inputs_are_part_of_the_key(tmp_path):
    """A changed end-of-turn flag or gold object is judged anew; the LLM judge's key is unchanged."""
    from definemed.evaluation.judge import ReferenceJudge

    it = {"question": "Welches Organ ist bei Morbus Kelvar hauptsächlich betroffen?", "subject": "Morbus Kelvar",
          "answer_a": "Morbus Kelvar betrifft vor allem die Lunge.", "answer_b": "Morbus Kelvar betrifft die Leber.",
          "ended_a": True, "ended_b": True, "reference": "die Lunge", "pool": ["die Leber"]}
    fields = ReferenceJudge.key_fields
    assert judgment_key(it, "reference", "m", "", fields) != judgment_key({**it, "ended_a": False}, "reference", "m", "", fields)
    assert judgment_key(it, "llm", "m", "v1") == judgment_key({**it, "ended_a": False}, "llm", "m", "v1")
    raw, _ = judge_persisted(ReferenceJudge(), [it, {**it, "ended_a": False}], tmp_path / "j.jsonl", "m", "")
    assert raw[0].endswith("[[A]]") and raw[1].endswith("[[B]]")  # the cut-off answer loses to the wrong one
