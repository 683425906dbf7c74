"""The `openai` backend against a scripted OpenAI-compatible server on 127.0.0.1 (random port):
correct, slow, HTTP 500, malformed JSON and chatty answers; interruption and resume; refusal."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.labeling.annotate import run_label_stage
from definemed.labeling.backends.openai_chat import label_prob
from definemed.labeling.mock_server import MockChatServer
from tests.conftest import write_config
from tests.labeling.helpers import mixed_texts, register_corpus, write_corpus


def openai_config(tmp_path, base_url, n_docs, name="c.yaml", max_invalid_share=0.5, **openai):
    """mixed_texts has 3 invalid replies in 8 by design, so the invalid-share limit is raised here."""
    o = {"base_url": base_url, "concurrency": 8, "timeout_s": 0.5, "retries": 3, "backoff_s": 0.01,
         "backoff_max_s": 0.05, "parse_retries": 1, "max_consecutive_failures": 8}
    o.update(openai)
    return write_config(tmp_path / name, label={"backend": "openai", "n_docs": n_docs, "openai": o,
                                                "max_invalid_share": max_invalid_share})


def part_ids(out_root):
    ids = []
    for f in sorted((out_root / "data" / "test" / "01_label" / "parts").glob("part-*.jsonl")):
        ids += [json.loads(line)["id"] for line in f.read_text().splitlines() if line.endswith("}")]
    return ids


def run_cli(cfg_file, out_root, **popen):
    env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-m", "definemed", "label", "--profile", str(cfg_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)


def test_every_server_behaviour_no_loss_no_duplicate(tmp_path, out_root):
    texts = mixed_texts(48)
    write_corpus(out_root, texts)
    with MockChatServer(slow_s=1.0) as srv:
        cfg = load_config(openai_config(tmp_path, srv.base_url, n_docs=48))
        summary = run_label_stage(cfg)
    labels = pd.read_parquet(out_root / "data" / "test" / "01_label" / "labels.parquet")
    assert len(labels) == 48 and labels["id"].is_unique
    ids = part_ids(out_root)
    assert len(ids) == 48 and len(set(ids)) == 48  # one record per document in the incremental file
    by_text = dict(zip([f"<urn:test:{i:05d}>" for i in range(48)], texts))
    for _, r in labels.iterrows():
        t = by_text[r["id"]]
        if "#badjson" in t or "#nolabel" in t:
            assert r["label"] == -1, t
        else:  # correct, slow (timeout then retry), HTTP 500 twice then ok, chatty
            assert r["label"] == int("krank" in t), (t, r["raw"])
            assert r["prob"] == pytest.approx(0.9 if "krank" in t else 0.15, abs=1e-6)
    assert summary["n_unparsed"] == 12 and summary["n_invalid"] == 12 and summary["n_failed"] == 0
    # slow documents were retried after the timeout, HTTP 500 ones after two errors
    slow = [k for k in srv.attempts if "#slow" in k]
    e500 = [k for k in srv.attempts if "#e500" in k]
    assert all(srv.attempts[k] == 2 for k in slow) and all(srv.attempts[k] == 3 for k in e500)
    assert {c: str(t) for c, t in labels.dtypes.items() if c in ("label", "prob", "latency_s")} == \
        {"label": "int8", "prob": "float32", "latency_s": "float32"}
    assert list(labels.columns) == ["id", "label", "prob", "raw", "backend", "latency_s"]


def test_killed_run_resumes_to_the_same_labels(tmp_path, out_root):
    texts = mixed_texts(112)
    ref_root, kill_root = tmp_path / "ref", tmp_path / "kill"
    for r in (ref_root, kill_root):
        write_corpus(r, texts)
    with MockChatServer(latency_s=0.02, slow_s=1.0) as srv:
        cfg_file = openai_config(tmp_path, srv.base_url, n_docs=112, concurrency=4)
        register_corpus(kill_root, cfg_file)
        os.environ["DEFINEMED_OUTPUT_ROOT"] = str(ref_root)  # the uninterrupted reference, in-process
        try:
            run_label_stage(load_config(cfg_file))
        finally:
            os.environ["DEFINEMED_OUTPUT_ROOT"] = str(out_root)
        # kill -9 in the middle of the run, then run again
        p = run_cli(cfg_file, kill_root)
        deadline = time.time() + 30
        while len(part_ids(kill_root)) < 30 and time.time() < deadline and p.poll() is None:
            time.sleep(0.02)
        assert p.poll() is None, "the run finished before it could be killed"
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        out = kill_root / "data" / "test" / "01_label"
        assert not (out / "labels.parquet").exists()
        n_before = len(set(part_ids(kill_root)))
        assert 30 <= n_before < 112
        again = run_cli(cfg_file, kill_root)
        stdout, stderr = again.communicate(timeout=60)
        assert again.returncode == 0, stderr
        assert f"({n_before} resumed)" in stdout
    ids = part_ids(kill_root)
    assert len(ids) == len(set(ids)) == 112  # nothing labelled twice, nothing lost
    cols = ["id", "label", "prob", "raw", "backend"]
    a = pd.read_parquet(ref_root / "data" / "test" / "01_label" / "labels.parquet")[cols]
    b = pd.read_parquet(out / "labels.parquet")[cols]
    pd.testing.assert_frame_equal(a, b)


def test_truncated_last_line_is_relabelled(tmp_path, out_root):
    write_corpus(out_root, mixed_texts(16))
    with MockChatServer() as srv:
        cfg = load_config(openai_config(tmp_path, srv.base_url, n_docs=16))
        run_label_stage(cfg)
        out = out_root / "data" / "test" / "01_label"
        part = next((out / "parts").glob("part-*.jsonl"))
        lines = part.read_text().splitlines(keepends=True)
        part.write_text("".join(lines[:10]) + lines[10][:25])  # as if killed while writing record 11
        (out / "labels.parquet").unlink()
        s = run_label_stage(cfg)
    assert s["n_resumed"] == 10 and s["n_labelled_now"] == 6
    assert len(pd.read_parquet(out / "labels.parquet")) == 16


def test_unanswerable_documents_stop_the_run_unless_allowed(tmp_path, out_root):
    texts = mixed_texts(16)
    texts[5] = texts[5] + " #e400"
    write_corpus(out_root, texts)
    out = out_root / "data" / "test" / "01_label"
    with MockChatServer() as srv:
        with pytest.raises(DefinemedError, match=r"1 of 16 documents got no answer after all retries \(e\.g\. HTTP 400"):
            run_label_stage(load_config(openai_config(tmp_path, srv.base_url, n_docs=16)))
        assert not (out / "labels.parquet").exists() and len(part_ids(out_root)) == 15
        s = run_label_stage(load_config(openai_config(tmp_path, srv.base_url, n_docs=16, max_failed_share=0.1)))
    assert s["n_resumed"] == 15 and s["n_failed"] == 1
    labels = pd.read_parquet(out / "labels.parquet").set_index("id")
    assert labels.loc["<urn:test:00005>", "label"] == -1
    assert labels.loc["<urn:test:00005>", "raw"].startswith("<no answer: HTTP 400")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("refusal", ["connection", "http503"])
def test_refusing_server_stops_with_message_and_writes_nothing(tmp_path, out_root, refusal):
    write_corpus(out_root, mixed_texts(40))
    if refusal == "connection":
        srv, url = None, f"http://127.0.0.1:{_closed_port()}/v1"
    else:
        srv = MockChatServer(refuse_status=503).start()
        url = srv.base_url
    try:
        f = openai_config(tmp_path, url, n_docs=40, retries=1, max_consecutive_failures=5)
        if refusal == "connection":  # through the command line: one line on stderr, exit code 1
            register_corpus(out_root, f)
            p = run_cli(f, out_root)
            _, err = p.communicate(timeout=60)
            assert p.returncode == 1
            assert err.strip().count("\n") == 0 and "documents in a row got no answer" in err
        else:
            with pytest.raises(DefinemedError, match="5 documents in a row got no answer after 1 retries \\(last: HTTP 503\\)"):
                run_label_stage(load_config(f))
    finally:
        if srv:
            srv.stop()
    out = out_root / "data" / "test" / "01_label"
    assert not (out / "labels.parquet").exists() and not (out / "parts").exists()


def test_api_key_from_env_is_sent_and_never_shown(tmp_path, out_root, monkeypatch):
    write_corpus(out_root, mixed_texts(8))
    secret = "sk-test-5b1c0ffee"
    with MockChatServer(api_key=secret) as srv:
        f = openai_config(tmp_path, srv.base_url, n_docs=8, api_key_env="TEST_ANNOTATOR_KEY")
        monkeypatch.delenv("TEST_ANNOTATOR_KEY", raising=False)
        with pytest.raises(DefinemedError, match="TEST_ANNOTATOR_KEY is not set"):
            run_label_stage(load_config(f))
        monkeypatch.setenv("TEST_ANNOTATOR_KEY", "sk-wrong-key")
        with pytest.raises(DefinemedError, match="HTTP 401 unauthorized") as e:
            run_label_stage(load_config(f))
        assert "sk-wrong-key" not in str(e.value) and "\n" not in str(e.value)
        monkeypatch.setenv("TEST_ANNOTATOR_KEY", secret)
        s = run_label_stage(load_config(f))
        assert s["n_docs"] == 8
    logs = "".join(p.read_text() for p in (out_root / "data" / "test").rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
    assert secret not in logs


def test_label_prob_from_top_logprobs():
    import math

    data = {"choices": [{"logprobs": {"content": [{"top_logprobs": [
        {"token": " Ja", "logprob": math.log(0.6)}, {"token": "N", "logprob": math.log(0.2)},
        {"token": "Die", "logprob": math.log(0.2)}]}]}}]}
    assert label_prob(data, "JA", "NEIN") == pytest.approx(0.75)
    assert label_prob({"choices": [{"message": {"content": "JA"}}]}, "JA", "NEIN") is None
    assert label_prob({"choices": [{"logprobs": {"content": [{"top_logprobs": [{"token": "Die", "logprob": 0.0}]}]}}]},
                      "JA", "NEIN") is None


def test_annotate_works_inside_a_running_event_loop():
    """A Jupyter kernel already runs an event loop: the backend then runs its own in a worker thread."""
    import asyncio

    from definemed.labeling.backends.base import Doc
    from definemed.labeling.backends.openai_chat import OpenAIAnnotator
    from definemed.labeling.prompt import load_prompt

    with MockChatServer() as srv:
        a = OpenAIAnnotator(load_prompt("prompts/label_medical_de.v1.txt"), "JA", "NEIN", base_url=srv.base_url,
                            model="m", concurrency=2)

        async def inside_a_loop():
            out = []
            a.annotate([Doc("a", "Er ist krank."), Doc("b", "Ein Gartenfest.")], out.append)
            return sorted((r.id, r.label) for r in out)

        assert asyncio.run(inside_a_loop()) == [("a", 1), ("b", 0)]
