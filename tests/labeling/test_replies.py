"""Reply validation: a reply that is not a string, is empty or cannot be read is an invalid record with
its reason (never an exception), and a run with too many of them fails with one line before
labels.parquet, keeping its records; the rerun asks only the invalid documents again."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from definemed.config import load_config
from definemed.errors import DefinemedError
from definemed.labeling.annotate import run_label_stage
from definemed.labeling.mock_server import MockChatServer
from definemed.labeling.prompt import parse_answer
from tests.labeling.helpers import doc_text, register_corpus, write_corpus
from tests.labeling.test_openai_backend import openai_config, part_ids


@pytest.mark.parametrize("answer", [12345, 0.5, ["JA"], {"a": "JA"}, None, "", "   "])
def test_parse_answer_never_raises_on_odd_replies(answer):
    assert parse_answer(answer) is None


def records(out_root):
    out = []
    for f in sorted((out_root / "data" / "test" / "01_label" / "parts").glob("part-*.jsonl")):
        out += [json.loads(x) for x in f.read_text().splitlines()]
    return out


def test_non_string_and_empty_replies_are_invalid_records_with_a_reason(tmp_path, out_root):
    texts = [doc_text(i, True, m) for i, m in enumerate(["", "#intcont", "#empty", "#badjson", "", ""])]
    write_corpus(out_root, texts)
    with MockChatServer() as srv:
        s = run_label_stage(load_config(openai_config(tmp_path, srv.base_url, n_docs=6, retries=1)))
    assert s["n_invalid"] == 3 and s["n_medical"] == 3
    reasons = {r["id"]: r["notes"] for r in records(out_root)}
    assert reasons["<urn:test:00001>"] == ["non-string content (int)"]
    assert reasons["<urn:test:00002>"] == ["empty reply"]
    assert reasons["<urn:test:00003>"] == ["malformed response body"]
    labels = pd.read_parquet(out_root / "data" / "test" / "01_label" / "labels.parquet").set_index("id")
    assert labels.loc["<urn:test:00001>", "raw"] == "12345" and labels.loc["<urn:test:00001>", "label"] == -1


def test_too_many_invalid_replies_fail_and_the_rerun_asks_only_those(tmp_path, out_root):
    texts = [doc_text(i, i % 2 == 0, "#badjson" if i % 5 == 0 else "") for i in range(40)]  # 8 of 40 = 20 %
    write_corpus(out_root, texts)
    out = out_root / "data" / "test" / "01_label"
    with MockChatServer() as srv:
        cfg = load_config(openai_config(tmp_path, srv.base_url, n_docs=40, retries=1, max_invalid_share=0.05))
        with pytest.raises(DefinemedError) as e:
            run_label_stage(cfg)
        msg = str(e.value)
        assert "\n" not in msg and "8 of 40 replies were invalid" in msg and "label.max_invalid_share" in msg
        assert "malformed response body" in msg
        assert not (out / "labels.parquet").exists()  # nothing final written
        assert len(part_ids(out_root)) == 40  # every record kept
        first = dict(srv.attempts)
    # the server is fixed (the documents lose their marker as far as the server is concerned)
    fixed = [t.replace("#badjson", "") for t in texts]
    write_corpus(out_root, fixed)
    with MockChatServer() as srv:
        s = run_label_stage(load_config(openai_config(tmp_path, srv.base_url, n_docs=40, retries=1,
                                                      max_invalid_share=0.05)))
        asked = sum(srv.attempts.values())
    assert asked == 8  # only the invalid ones were asked again, the 32 good records were kept
    assert s["n_invalid"] == 0 and s["n_docs"] == 40 and not (out / "too_many_invalid.json").exists()
    labels = pd.read_parquet(out / "labels.parquet")
    assert len(labels) == 40 and labels["id"].is_unique and (labels["label"] >= 0).all()
    assert sum(first.values()) == 40 + 8  # first run: one attempt each, plus the retry of each bad body


def test_a_server_that_only_sends_malformed_bodies_fails_the_cli(tmp_path, out_root):
    import os
    import subprocess
    import sys

    write_corpus(out_root, [doc_text(i, True, "#badjson") for i in range(12)])
    with MockChatServer() as srv:
        f = openai_config(tmp_path, srv.base_url, n_docs=12, retries=0, max_invalid_share=0.05)
        register_corpus(out_root, f)
        env = os.environ | {"DEFINEMED_OUTPUT_ROOT": str(out_root)}
        p = subprocess.run([sys.executable, "-m", "definemed", "label", "--profile", str(f)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "12 of 12 replies were invalid" in p.stderr
    assert not (out_root / "data" / "test" / "01_label" / "labels.parquet").exists()
