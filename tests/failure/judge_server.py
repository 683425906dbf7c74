"""A local OpenAI-compatible chat endpoint on 127.0.0.1 with scripted replies, for the judge tests.

`mode` per answer text: the reply is chosen by a keyword in the judged answer, so one server covers
good replies, unreadable replies, HTTP errors and requests that hang past the client's timeout.
"""
from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

GOOD = json.dumps({"halluzination": True, "ueberkonfidenz": False, "widerspruch": False,
                   "belege": {"halluzination": "gehört zu den Statinen", "ueberkonfidenz": "", "widerspruch": ""},
                   "begruendung": "Falsche Wirkstoffgruppe."})


class JudgeServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = None
        self.port = None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        text = body["messages"][-1]["content"]
        if "HAENGT" in text:
            await asyncio.sleep(1.5)
        if "FEHLER500" in text:
            return web.Response(status=500, text="boom")
        reply = "Ich kann das nicht beurteilen." if "UNLESBAR" in text else f"```json\n{GOOD}\n```"
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": reply}}]})

    async def _start(self):
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
