"""The judge cache survives an interrupted run: a torn last line is dropped, the next records start on
a line of their own, and only the unjudged answers are sent again."""
from __future__ import annotations

import json

from definemed.failure.judge import run_judge
from definemed.io import drop_partial_line

from .judge_server import JudgeServer


def test_drop_partial_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c": ')
    assert drop_partial_line(f) == len(b'{"c": ') and f.read_bytes() == b'{"a": 1}\n{"b": 2}\n'
    assert drop_partial_line(f) == 0
    f.write_bytes(b'{"torn')
    assert drop_partial_line(f) == 6 and f.read_bytes() == b""
    assert drop_partial_line(tmp_path / "missing.jsonl") == 0


def test_torn_cache_line_then_resume(tiny_cfg, tmp_path):
    items = [{"question": f"Frage {i}?", "answer": f"Antwort {i}", "reference_answer": None} for i in range(4)]
    cache = tmp_path / "judge.jsonl"
    with JudgeServer() as srv:
        cfg = tiny_cfg.failure.model_copy(update={"judge": "llm", "judge_base_url": srv.url, "judge_retries": 0,
                                                  "judge_timeout_s": 5})
        run_judge(items[:2], cfg, cache=cache)
        lines = cache.read_text().splitlines(keepends=True)
        assert len(lines) == 2
        cache.write_text(lines[0] + lines[1][:30])  # killed while writing the second record
        sent = len(srv.requests)
        res = run_judge(items, cfg, cache=cache)
        assert len(srv.requests) - sent == 3  # item 0 from the cache; the torn one and two new ones asked
    assert all(r["hallucination"].status == "ok" for r in res)
    recs = [json.loads(x) for x in cache.read_text().splitlines()]  # every line parses again
    assert len(recs) == 4 and len({r["key"] for r in recs}) == 4
