"""Secrets never stored: a server that echoes the request's Authorization header into every reply
field (answer, model name, log-prob tokens, error and malformed bodies) leaves no trace of the key in
any output file, record or log of stage 01, nor in the replies the evaluation and failure clients keep."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from definemed.labeling.mock_server import MockChatServer
from definemed.redact import redact
from tests.conftest import write_config
from tests.labeling.helpers import doc_text, register_corpus, write_corpus

SECRET = "sk-proj-Zq9vT2xLmN4pR7sK"


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
    ("authorization%3A%20bearer%20tok_en", "authorization%3A%20bearer%20***"),
    (f"key {SECRET}!", "key ***!"),
    ("the key is my-own-key-9", "the key is ***"),
    (None, ""),
    (12345, "12345"),
    ("JA", "JA"),
])
def test_redact(text, expected):
    assert redact(text, ["my-own-key-9", None, "x"]) == expected


def test_key_echoed_in_every_reply_field_is_never_stored(tmp_path, out_root):
    texts = [doc_text(i, medical=i % 2 == 0, marker=m) for i, m in
             enumerate(["", "#chatty", "#badjson", "#nolabel", "#e400", "#e500", "#intcont", "#empty"] * 2)]
    write_corpus(out_root, texts)
    with MockChatServer(api_key=SECRET, echo_auth=True) as srv:
        cfg = write_config(tmp_path / "c.yaml", label={
            "backend": "openai", "n_docs": len(texts), "max_invalid_share": 1.0,
            "openai": {"base_url": srv.base_url, "api_key_env": "DEFINEMED_TEST_ECHO_KEY", "retries": 2,
                       "backoff_s": 0.01, "backoff_max_s": 0.02, "max_failed_share": 1.0, "timeout_s": 5}})
        register_corpus(out_root, cfg)
        env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root), "DEFINEMED_TEST_ECHO_KEY": SECRET}
        p = subprocess.run([sys.executable, "-m", "definemed", "label", "--profile", str(cfg)],
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        # a wrong key: the 401 body echoes the header too; the one-line error must not carry it
        bad = subprocess.run([sys.executable, "-m", "definemed", "label", "--profile", str(cfg), "--force"],
                             capture_output=True, text=True, env=env | {"DEFINEMED_TEST_ECHO_KEY": "sk-wrongwrong42"},
                             timeout=120)
    assert bad.returncode == 1 and "HTTP 401" in bad.stderr and bad.stderr.strip().count("\n") == 0
    logs = p.stdout + p.stderr + bad.stdout + bad.stderr
    assert "Bearer ***" in bad.stderr  # the echoed header is shown, without the key
    stored = {f: f.read_bytes() for f in out_root.rglob("*") if f.is_file()}
    for secret in (SECRET, "sk-wrongwrong42", SECRET[8:]):
        assert secret not in logs
        for f, data in stored.items():
            assert secret.encode() not in data, f


def test_first_run_outputs_redacted(tmp_path, out_root, monkeypatch):
    """The same echo server, in process: every record keeps the reply's text, minus the key."""
    import json

    import pandas as pd

    from definemed.config import load_config
    from definemed.labeling.annotate import run_label_stage

    texts = [doc_text(i, medical=i % 2 == 0, marker=m) for i, m in enumerate(["", "#chatty", "#badjson", "#nolabel"] * 3)]
    write_corpus(out_root, texts)
    monkeypatch.setenv("DEFINEMED_TEST_ECHO_KEY", SECRET)
    with MockChatServer(api_key=SECRET, echo_auth=True) as srv:
        cfg = load_config(write_config(tmp_path / "c.yaml", label={
            "backend": "openai", "n_docs": len(texts), "max_invalid_share": 1.0,
            "openai": {"base_url": srv.base_url, "api_key_env": "DEFINEMED_TEST_ECHO_KEY", "retries": 1,
                       "backoff_s": 0.01, "backoff_max_s": 0.02}}))
        run_label_stage(cfg)
    out = out_root / "data" / "test" / "01_label"
    labels = pd.read_parquet(out / "labels.parquet")
    assert len(labels) == len(texts)
    assert labels["raw"].str.contains("Bearer \\*\\*\\*", regex=True).all()  # the echo is kept, the key is not
    for f in out.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    rec = [json.loads(x) for f in (out / "parts").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert all(SECRET not in json.dumps(r) for r in rec)


def test_evaluation_and_failure_clients_redact_echoed_keys(monkeypatch):
    from definemed.config import FailureConfig
    from definemed.evaluation.generation import OpenAIChat
    from definemed.failure.judge import run_judge

    monkeypatch.setenv("DEFINEMED_TEST_ECHO_KEY", SECRET)
    with MockChatServer(echo_auth=True) as srv:
        answers = OpenAIChat(srv.base_url, "m", api_key_env="DEFINEMED_TEST_ECHO_KEY", max_retries=1).answer(
            ["Was ist krank?"], 8)
        cfg = FailureConfig(judge="llm", judge_base_url=srv.base_url, judge_api_key_env="DEFINEMED_TEST_ECHO_KEY",
                            judge_retries=0, judge_timeout_s=5)
        verdicts = run_judge([{"question": "q", "answer": "krank", "reference_answer": None}], cfg)
    assert "Bearer ***" in answers[0] and SECRET not in answers[0]
    dumped = repr(verdicts)
    assert "Bearer ***" in dumped and SECRET not in dumped


KEY_WITH_SPECIALS = "sk-proj-Ab+Cd/Ef=Gh12XyZ"  # '+', '/' and '=' change under every encoding


def _left(text: str) -> int:
    """The longest run of the key's characters (in order) still in `text`."""
    best = 0
    for i in range(len(KEY_WITH_SPECIALS)):
        for j in range(i + best + 1, len(KEY_WITH_SPECIALS) + 1):
            if KEY_WITH_SPECIALS[i:j] in text:
                best = j - i
    return best


@pytest.mark.parametrize("form", [
    lambda k: "Bearer%20" + __import__("urllib.parse").parse.quote(k, safe=""),  # the probe's echo
    lambda k: "key=" + __import__("urllib.parse").parse.quote_plus(k) + "&x=1",
    lambda k: "key=" + __import__("urllib.parse").parse.quote(k, safe="").lower(),
])
def test_url_encoded_key_is_redacted(form):
    text = form(KEY_WITH_SPECIALS)
    out = redact(text, [KEY_WITH_SPECIALS])
    assert "***" in out and "Ab" not in out and "Gh12" not in out, out


@pytest.mark.parametrize("prefix", ["", "A", "Authorization: Bearer "])  # every byte alignment
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_encoded_key_is_redacted(prefix, urlsafe):
    import base64

    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = enc((prefix + KEY_WITH_SPECIALS + " tail").encode()).decode()
    out = redact(f"echo: {blob}", [KEY_WITH_SPECIALS])
    assert "***" in out
    # at most the 2 characters the key shares with its neighbours are left of its encoding
    assert len(out) <= len("echo: ") + len(blob) - len(enc(KEY_WITH_SPECIALS.encode())) + 3 + 4


@pytest.mark.parametrize("escape_slash", [False, True])
def test_json_escaped_key_is_redacted(escape_slash):
    import json

    text = json.dumps({"echo": "Authorization: token " + KEY_WITH_SPECIALS})
    if escape_slash:
        text = text.replace("/", "\\/")  # what PHP and some proxies write
    out = redact(text, [KEY_WITH_SPECIALS])
    assert _left(out) <= 2 and "***" in out, out
