"""Batched left-padded generation equals one-prompt-at-a-time greedy generation; chat templates;
the OpenAI-compatible client against a local fake server (the key is sent, never returned)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from definemed.errors import DefinemedError
from definemed.evaluation import generation as G


def test_batched_equals_one_by_one(tiny_model):
    model, tok = tiny_model
    prompts = G.chat_prompts(tok, ["Welches Organ?", "Wodurch wird Morbus Kesow verursacht und warum?", "Fieber?"])
    assert prompts[0].startswith("<|system|>\n") and prompts[0].endswith("<|assistant|>\n")
    s1, s2 = G.GenStats(), G.GenStats()
    batched = G.generate_batched(model, tok, prompts, 6, batch_size=3, stats=s1)
    single = G.generate_one_by_one(model, tok, prompts, 6, stats=s2)
    assert batched == single
    assert s1.new_tokens == s2.new_tokens > 0 and s1.n_prompts == 3


def test_ended_flags_say_which_answers_stopped_within_the_budget(tiny_model):
    import torch

    model, tok = tiny_model
    prompts = G.chat_prompts(tok, ["Welches Organ?", "Fieber?"])
    answers, ended = G.generate_with_ends(model, tok, prompts, 5, batch_size=2)
    assert answers == G.generate_batched(model, tok, prompts, 5, batch_size=2)
    # forcing the end-of-turn token as the first new token ends every answer, empty
    bias = torch.full((1, model.config.vocab_size), -1e9)
    bias[0, tok.eos_token_id] = 0.0

    class ForceEos:
        def __call__(self, input_ids, scores):
            return scores + bias

    forced, forced_ended = G.generate_with_ends(model, tok, prompts, 5, batch_size=2, logits_processor=[ForceEos()])
    assert forced == ["", ""] and forced_ended == [True, True]
    # banning it leaves every answer cut by the budget
    bias[0, :] = 0.0
    bias[0, tok.eos_token_id] = -1e9
    _, cut = G.generate_with_ends(model, tok, prompts, 5, batch_size=2, logits_processor=[ForceEos()])
    assert cut == [False, False] and isinstance(ended[0], bool)


def test_missing_chat_template(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    tok.chat_template = None
    with pytest.raises(DefinemedError, match="no chat template"):
        G.chat_prompts(tok, ["x"])


class _Handler(BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, self.headers.get("Authorization"), body))
        if body["model"] == "broken":
            self.send_response(400)
            self.end_headers()
            return
        out = {"choices": [{"message": {"content": " Antwort auf: " + body["messages"][-1]["content"]},
                            "finish_reason": "length" if body["max_tokens"] < 4 else "stop"}]}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_openai_client(monkeypatch):
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("TEST_KEY", "sk-secret")
        url = f"http://127.0.0.1:{srv.server_port}/v1"
        c = G.OpenAIChat(url, "m1", api_key_env="TEST_KEY", max_retries=1, concurrency=2)
        assert c.answer(["F1?", "F2?"], 8) == ["Antwort auf: F1?", "Antwort auf: F2?"]
        assert c.answer_ended(["F1?"], 8)[1] == [True] and c.answer_ended(["F1?"], 2)[1] == [False]
        path, auth, body = _Handler.seen[0]
        assert path == "/v1/chat/completions" and auth == "Bearer sk-secret"
        assert body["temperature"] == 0.0 and body["messages"][0]["role"] == "system"
        with pytest.raises(DefinemedError, match="request failed \\(HTTP 400\\)") as e:
            G.OpenAIChat(url, "broken", api_key_env="TEST_KEY", max_retries=1).complete([], 4)
        assert "sk-secret" not in str(e.value)
    finally:
        srv.shutdown()
    with pytest.raises(DefinemedError, match="base URL is required"):
        G.OpenAIChat("", "m")
