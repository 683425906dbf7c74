"""A scripted OpenAI-compatible chat server on loopback, for tests, the benchmark and dry runs.

It answers `POST /v1/chat/completions` like vLLM does (choices[0].message.content and, when asked,
first-token top_logprobs). Its behaviour per document is set by markers in the document text:

    #slow     the first attempt sleeps `slow_s` (longer than the client timeout), later ones answer
    #e500     HTTP 500 on the first two attempts
    #badjson  always HTTP 200 with a body that is not JSON
    #e400     always HTTP 400 (e.g. a prompt the server will never accept)
    #chatty   a chatty sentence around the label word
    #nolabel  a chatty sentence without any label word
    #intcont  `"content": 12345` (not a string)
    #empty    `"content": ""`
With `echo_auth=True` the server copies the request's Authorization header into every reply field
(answer text, model name, log-prob tokens, error and malformed bodies), as a misbehaving proxy may.
Anything else gets the bare label word. The "true" label: JA when the document contains "krank".

    python -m definemed.labeling.mock_server --port 8000 --latency 0.05   # serve until Ctrl-C
"""
from __future__ import annotations

import asyncio
import json
import math
import re
import threading
from collections import Counter

DOC = re.compile(r"<dokument>\n?(.*?)\n?</dokument>", re.S)


def truth(document: str) -> bool:
    return "krank" in document.lower()


class MockChatServer:
    """Run with `with MockChatServer(...) as srv:`; `srv.base_url` ends in /v1."""

    def __init__(self, latency_s: float = 0.0, slow_s: float = 1.0, api_key: str | None = None,
                 refuse_status: int | None = None, host: str = "127.0.0.1", port: int = 0,
                 echo_auth: bool = False):
        self.latency_s, self.slow_s, self.api_key, self.refuse_status = latency_s, slow_s, api_key, refuse_status
        self.echo_auth = echo_auth
        self.host, self.port = host, port
        self.attempts: Counter = Counter()
        self.requests = 0
        self._thread = None
        self._ready = threading.Event()

    # ---- the handler -----------------------------------------------------------------------
    async def _handle(self, request):
        from aiohttp import web

        self.requests += 1
        echo = f" (request header: Authorization: {request.headers.get('Authorization')})" if self.echo_auth else ""
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"error": {"message": "invalid API key" + echo}}, status=401)
        if self.refuse_status is not None:
            return web.json_response({"error": {"message": "refused" + echo}}, status=self.refuse_status)
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        m = DOC.search(prompt)
        doc = m.group(1) if m else prompt
        key = doc[:200]
        self.attempts[key] += 1
        n = self.attempts[key]
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if "#slow" in doc and n == 1:
            await asyncio.sleep(self.slow_s)
        if "#e500" in doc and n <= 2:
            return web.Response(status=500, text="internal error" + echo)
        if "#e400" in doc:
            return web.json_response({"error": {"message": "This model's maximum context length is exceeded" + echo}},
                                     status=400)
        if "#badjson" in doc:
            return web.Response(status=200, text='{"choices": [{"message": {"content": "JA' + echo,
                                content_type="application/json")
        yes = truth(doc)
        word = "JA" if yes else "NEIN"
        if "#nolabel" in doc:
            content = "Das ist eine interessante Frage, die ich gerne beantworte."
        elif "#chatty" in doc:
            content = f"Nach sorgfältiger Prüfung des Dokuments lautet meine Antwort: {word}. Begründung folgt."
        else:
            content = word
        content = 12345 if "#intcont" in doc else "" if "#empty" in doc else content + echo
        p = 0.9 if yes else 0.15  # a fixed, label-dependent probability the tests can check
        out = {"id": "cmpl-mock" + echo, "object": "chat.completion", "model": body.get("model") + echo,
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content}}]}
        if body.get("logprobs"):
            top = [{"token": "JA", "logprob": math.log(p)}, {"token": "NEIN", "logprob": math.log(1 - p)},
                   {"token": "X" + echo, "logprob": -20.0}]
            out["choices"][0]["logprobs"] = {"content": [{"token": top[0 if yes else 1]["token"],
                                                          "logprob": top[0 if yes else 1]["logprob"],
                                                          "top_logprobs": top}]}
        return web.Response(text=json.dumps(out), content_type="application/json")

    # ---- lifecycle -------------------------------------------------------------------------
    def _serve(self):
        from aiohttp import web

        async def main():
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, backlog=1024)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self._stop = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        asyncio.run(main())

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "MockChatServer":
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("mock server did not start")
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "MockChatServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    import argparse
    import time

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    with MockChatServer(latency_s=args.latency, port=args.port) as srv:
        print(f"serving {srv.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
