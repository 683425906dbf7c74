"""The LLM judge: rubric, reply parser (scripted outputs) and a local server that times out."""
from __future__ import annotations

import json

import pytest

from definemed.errors import DefinemedError
from definemed.failure.judge import load_rubric, parse_judgment, run_judge

from .judge_server import GOOD, JudgeServer


@pytest.mark.parametrize("reply, expected", [
    (GOOD, (True, False, False)),
    (f"Hier ist meine Bewertung:\n```json\n{GOOD}\n```\nIch hoffe, das hilft.", (True, False, False)),
    ('{"Halluzination": "nein", "Überkonfidenz": "ja", "Widerspruch": 0, "belege": {"ueberkonfidenz": "definitiv"}}',
     (False, True, False)),
    ("Halluzination: ja\nUeberkonfidenz: nein\nWiderspruch: ja", (True, False, True)),
    ("- **Halluzination**: nein\n- **Ueberkonfidenz**: nein\n- **Widerspruch**: nein", (False, False, False)),
])
def test_parser_reads_scripted_judge_outputs(reply, expected):
    v = parse_judgment(reply)
    assert tuple(v[m].flag for m in ("hallucination", "overconfidence", "contradiction")) == expected
    assert all(x.status == "ok" for x in v.values())


def test_parser_keeps_the_evidence():
    v = parse_judgment(GOOD)
    assert v["hallucination"].evidence == ["gehört zu den Statinen"]
    assert v["overconfidence"].evidence == []


@pytest.mark.parametrize("reply", ["", "Ich weiß es nicht.", '{"halluzination": "vielleicht"}', "{kaputt"])
def test_unreadable_reply_is_an_error_status_not_an_exception(reply):
    v = parse_judgment(reply)
    assert v["hallucination"].status == "error" and not v["hallucination"].flag


def test_rubric_is_versioned_german_and_formats_braces_in_answers():
    r = load_rubric("failure_judge_v1")
    msgs = r.messages("Wozu gehört X?", "Antwort mit {geschweiften} Klammern", None)
    assert r.name == "failure_judge_v1" and "halluzination" in msgs[1]["content"]
    assert "{geschweiften}" in msgs[1]["content"] and '"ueberkonfidenz": false' in msgs[1]["content"]
    assert "nan" not in r.messages("q", "a", float("nan"))[1]["content"].split("Referenzantwort")[1][:40]


def test_missing_rubric_is_a_clear_error(tmp_path):
    with pytest.raises(DefinemedError, match="rubric not found"):
        load_rubric("failure_judge_v0", folder=tmp_path)
    (tmp_path / "bad.md").write_text("## system\nnur System\n")
    with pytest.raises(DefinemedError, match="## user"):
        load_rubric("bad", folder=tmp_path)


def test_judge_against_a_local_server_with_a_timeout(tiny_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("DEFINEMED_TEST_JUDGE_KEY", "sk-test-secret")
    items = [{"question": "Wozu gehört Velorixan?", "answer": "Velorixan gehört zu den Statinen.", "reference_answer": "Betablocker"},
             {"question": "q", "answer": "HAENGT sehr lange", "reference_answer": None},
             {"question": "q", "answer": "FEHLER500", "reference_answer": None},
             {"question": "q", "answer": "UNLESBAR", "reference_answer": None},
             {"question": "q", "answer": "", "reference_answer": None}]
    cache = tmp_path / "judge.jsonl"
    with JudgeServer() as srv:
        cfg = tiny_cfg.failure.model_copy(update={
            "judge": "llm", "judge_base_url": srv.url, "judge_timeout_s": 0.5, "judge_retries": 1,
            "judge_api_key_env": "DEFINEMED_TEST_JUDGE_KEY", "judge_concurrency": 2})
        res = run_judge(items, cfg, cache=cache)
        assert res[0]["hallucination"].flag and res[0]["hallucination"].status == "ok"
        assert res[1]["hallucination"].status == "timeout" and "timeout" in res[1]["hallucination"].evidence[0]
        assert res[2]["contradiction"].status == "error" and "HTTP 500" in res[2]["contradiction"].evidence[0]
        assert res[3]["overconfidence"].status == "error"
        assert res[4]["hallucination"].status == "empty"
        n_requests = len(srv.requests)
        assert n_requests == 1 + 2 + 2 + 1  # timeouts and 5xx are retried once; the empty answer is not sent
        assert srv.headers[0]["Authorization"] == "Bearer sk-test-secret"
        assert srv.requests[0]["messages"][0]["role"] == "system"
        # rerun: the judged item comes from the cache; timeout, 5xx and unreadable are tried again
        res2 = run_judge(items, cfg, cache=cache)
        assert res2[0]["hallucination"].flag and res2[1]["hallucination"].status == "timeout"
        assert len(srv.requests) == n_requests + 2 + 2 + 1
    text = cache.read_text()
    assert "sk-test-secret" not in text and len(text.splitlines()) == 1
    assert all(json.loads(line)["key"] for line in text.splitlines())


def test_unreachable_judge_is_counted_not_a_crash(tiny_cfg):
    cfg = tiny_cfg.failure.model_copy(update={"judge_base_url": "http://127.0.0.1:9/v1", "judge_retries": 0,
                                              "judge_timeout_s": 2})
    res = run_judge([{"question": "q", "answer": "eine Antwort", "reference_answer": None}], cfg)
    assert res[0]["hallucination"].status in ("error", "timeout")


def test_unjudged_answers_fail_the_stage_and_are_asked_again_on_rerun(tiny_cfg, tmp_path):
    """The probe's failure: stage 07 with 56 of 56 judgments in error exited 0 and was recorded done."""
    from types import SimpleNamespace

    import pytest

    from definemed.errors import DefinemedError
    from definemed.failure.analysis import Detectors

    good = {"question": "Wozu gehört Velorixan?", "answer": "Velorixan gehört zu den Statinen.",
            "reference_answer": "Betablocker"}
    broken = {"question": "q", "answer": "FEHLER500", "reference_answer": None}
    cache = tmp_path / "judge.jsonl"
    with JudgeServer() as srv:
        cfg = tiny_cfg.failure.model_copy(update={"judge": "llm", "judge_base_url": srv.url, "judge_retries": 0,
                                                  "judge_timeout_s": 5})
        detectors = SimpleNamespace(facts=None, cfg=SimpleNamespace(failure=cfg))
        with pytest.raises(DefinemedError, match=r"failure.judge: 1 of 2 answers not judged \(error: judge: HTTP 500"):
            Detectors.judged(detectors, [good, broken], cache)
        assert len(cache.read_text().splitlines()) == 1  # the judged answer is kept
        n = len(srv.requests)
        res = Detectors.judged(detectors, [good, dict(broken, answer="jetzt lesbar")], cache)  # the rerun
        assert all(v.status == "ok" for r in res for v in r.values())
        assert len(srv.requests) == n + 1  # only the unjudged answer was asked again
        lenient = SimpleNamespace(facts=None, cfg=SimpleNamespace(failure=cfg.model_copy(
            update={"judge_max_failed_share": 0.5})))
        assert Detectors.judged(lenient, [good, broken], cache)[1]["hallucination"].status == "error"
