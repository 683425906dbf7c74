"""A CPU stand-in for `vllm serve`: the same command line and the three routes stage 06 uses, answered
by a local Hugging Face folder with transformers (for tests and paper-profile dry runs without GPUs).

    python -m definemed.evaluation.fake_vllm serve <folder> --served-model-name <name> --port 8000
    # tests put an executable `vllm` on PATH that runs exactly this (tests/evaluation/test_serving.py)

- GET  /v1/models            {"data": [{"id": <served name>, "root": <folder>}]} (what the stage waits for)
- POST /v1/completions       vLLM's legacy completions: `prompt` as text, token ids or a batch of
                             either; `echo` + `logprobs` return the prompt tokens' log-probabilities
                             (token_logprobs[0] is None, top_logprobs as {token: logprob}), which is what
                             lm-eval's `local-completions` reads for log-likelihoods
- POST /v1/chat/completions  the tokenizer's chat template, greedy decoding, finish_reason stop/length
A request for another model name is answered 404, as vLLM does. vLLM's other options
(--tensor-parallel-size, --dtype, --gpu-memory-utilization, ...) are accepted and ignored. Every
forward pass runs on one CPU thread in float32; the numbers equal `definemed.lm_metrics` on the folder.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


class FakeVLLM:
    def __init__(self, folder: str, served_name: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(1)
        self.folder, self.name = folder, served_name
        self.tok = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, dtype=torch.float32).eval()
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token

    # ---- model work ---------------------------------------------------------------------------
    def _prompts(self, prompt) -> list[list[int]]:
        if isinstance(prompt, str):
            return [self.tok(prompt)["input_ids"]]
        if prompt and all(isinstance(x, int) for x in prompt):
            return [list(prompt)]
        return [self.tok(p)["input_ids"] if isinstance(p, str) else list(p) for p in prompt]

    def _logprobs(self, ids: list[int]):
        import torch

        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def _greedy(self, ids: list[int], max_tokens: int) -> list[int]:
        import torch

        if max_tokens <= 0:
            return []
        with torch.no_grad():
            out = self.model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                      max_new_tokens=max_tokens, do_sample=False, pad_token_id=self.tok.pad_token_id,
                                      eos_token_id=self.tok.eos_token_id)
        return out[0, len(ids):].tolist()

    def _top(self, row, token: int, k: int) -> dict:
        vals, idx = row.topk(k)
        top = {self.tok.convert_ids_to_tokens(int(i)): float(v) for v, i in zip(vals, idx)}
        top[self.tok.convert_ids_to_tokens(int(token))] = float(row[token])
        return top

    def completions(self, body: dict) -> dict:
        echo, k = bool(body.get("echo")), body.get("logprobs")
        max_tokens = int(body.get("max_tokens", 16))
        choices = []
        for i, ids in enumerate(self._prompts(body["prompt"])):
            gen = self._greedy(ids, max_tokens)
            full = ids + gen
            shown = full if echo else gen
            start = 0 if echo else len(ids)
            choice = {"index": i, "text": self.tok.decode(shown), "finish_reason": "length"}
            if gen and gen[-1] == self.tok.eos_token_id:
                choice["finish_reason"] = "stop"
            if k is not None:
                lp = self._logprobs(full)
                token_lp = [None] + [float(lp[j - 1, full[j]]) for j in range(1, len(full))]
                top = [None] + [self._top(lp[j - 1], full[j], max(int(k), 1)) for j in range(1, len(full))]
                choice["logprobs"] = {"tokens": self.tok.convert_ids_to_tokens(shown),
                                      "token_logprobs": token_lp[start:], "top_logprobs": top[start:],
                                      "text_offset": [0] * len(shown)}
            choices.append(choice)
        return {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()), "model": self.name,
                "choices": choices}

    def chat(self, body: dict) -> dict:
        msgs = body["messages"]
        try:
            text = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        except Exception:  # templates without a system turn: fold it in, as the evaluation client does
            sys_msg = " ".join(m["content"] for m in msgs if m["role"] == "system")
            user = [m for m in msgs if m["role"] != "system"]
            user[0] = {**user[0], "content": f"{sys_msg}\n\n{user[0]['content']}" if sys_msg else user[0]["content"]}
            text = self.tok.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        gen = self._greedy(ids, int(body.get("max_tokens", 16)))
        ended = self.tok.eos_token_id in gen
        content = self.tok.decode(gen, skip_special_tokens=True)
        return {"id": "chatcmpl-fake", "object": "chat.completion", "model": self.name,
                "choices": [{"index": 0, "finish_reason": "stop" if ended else "length",
                             "message": {"role": "assistant", "content": content}}]}


def serve(folder: str, name: str, host: str, port: int) -> None:
    from aiohttp import web

    srv = FakeVLLM(folder, name)

    def checked(fn):
        async def handler(request):
            body = await request.json()
            if body.get("model") != name:
                return web.json_response({"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                                          "type": "NotFoundError", "code": 404}, status=404)
            return web.Response(text=json.dumps(fn(body)), content_type="application/json")
        return handler

    async def models(_request):
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model", "root": folder}]})

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", checked(srv.completions))
    app.router.add_post("/v1/chat/completions", checked(srv.chat))
    print(f"fake vllm: serving {folder} as {name} on http://{host}:{port}/v1", flush=True)
    web.run_app(app, host=host, port=port, access_log=None, print=None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="vllm", description="CPU stand-in for `vllm serve` (definemed tests).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("model")
    s.add_argument("--served-model-name", default=None)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    args, _ignored = ap.parse_known_args(argv)
    serve(args.model, args.served_model_name or args.model, args.host, args.port)


if __name__ == "__main__":
    main(sys.argv[1:])
