"""A fake OpenAI-compatible chat server on 127.0.0.1 with programmable faults (test support).

Replies come from orgsweep's sim (``agents.backends.sim.respond``): the posted messages, the
model name (mapped back to a ``ModelSpec``), the seed and the ``response_format`` schema name are
turned back into a ``ChatRequest``, so a whole sweep can run against it. It runs an aiohttp app
on its own event loop in a daemon thread of the test process, on a free port; Ray workers on this
machine reach it at ``server.url``.

Faults come first from ``script`` (one action per request, in order), then at random from
``faults`` (seeded). Actions: ``ok``, ``429`` / ``429:SECONDS`` (with Retry-After), ``500``,
``503``, ``401`` (echoing the Authorization header), ``stall`` (sleep ``stall_s``, beyond the
client's timeout), ``broken`` (content that is not JSON), ``length`` (cut-off content,
``finish_reason=length``), ``nousage`` (no ``usage``), ``garbage`` (an HTML page with status
200), ``badjson`` (a truncated JSON body), ``drip`` (status 200, then one byte every ``drip_s``,
never a whole body) and ``endless`` (status 200 and a body that never ends, sent as fast as the
client reads). Both stop after ``forever_s`` so the server's loop is bounded.

Run by hand: ``python tests/fake_openai_server.py`` prints the URL and serves until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from agents.backends.chat import estimate_tokens
from agents.backends.sim import respond
from agents.catalogue import ModelSpec
from sweep.sim_openai import catalogue, chat_request, completion

BROKEN = '{"role": "Analyst", "participate": tru'


@dataclass
class Faults:
    """Share of requests that get each fault when the script is empty."""

    rate_limit: float = 0.0
    retry_after_s: float | None = 0.05  # Retry-After sent with 429 (None: no header)
    server_error: float = 0.0  # 500
    unavailable: float = 0.0  # 503
    stall: float = 0.0
    stall_s: float = 5.0
    broken: float = 0.0
    length: float = 0.0
    usage: bool = True  # send usage (False: never)
    drip_s: float = 1.0  # ``drip``: seconds between bytes
    forever_s: float = 30.0  # ``drip`` / ``endless``: the server gives up after this long

    def draw(self, rng: random.Random) -> str:
        x = rng.random()
        for action, share in (
            (
                f"429:{self.retry_after_s}" if self.retry_after_s is not None else "429",
                self.rate_limit,
            ),
            ("500", self.server_error),
            ("503", self.unavailable),
            ("stall", self.stall),
            ("broken", self.broken),
            ("length", self.length),
        ):
            if x < share:
                return action
            x -= share
        return "ok"


@dataclass
class Stats:
    requests: list[dict[str, Any]] = field(default_factory=list)  # posted bodies, in order
    actions: Counter[str] = field(default_factory=Counter)
    auth: set[str] = field(default_factory=set)  # Authorization headers seen
    in_flight: Counter[str] = field(default_factory=Counter)  # by model, now
    peak: Counter[str] = field(default_factory=Counter)  # by model, most at once
    by_port: Counter[int] = field(default_factory=Counter)  # requests per port


class FakeOpenAIServer:
    def __init__(
        self,
        models: Mapping[str, ModelSpec] | None = None,
        *,
        faults: Faults | None = None,
        script: list[str] | None = None,
        latency_s: float = 0.0,
        ports: int = 1,
        seed: int = 0,
    ):
        self.models = dict(models) if models is not None else catalogue()
        self.faults = faults or Faults()
        self.script: deque[str] = deque(script or [])
        self.latency_s = latency_s
        self.n_ports = ports
        self.stats = Stats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.ports: list[int] = []

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}/v1" for p in self.ports]

    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._open())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake OpenAI server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        for _ in range(self.n_ports):
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert server is not None
            self.ports.append(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- handlers -----------------------------------------------------------------------

    async def _health(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _models(self, _: web.Request) -> web.Response:
        data = [{"id": k, "object": "model", "owned_by": "fake"} for k in self.models]
        return web.json_response({"object": "list", "data": data})

    def _next_action(self) -> str:
        with self._lock:
            return self.script.popleft() if self.script else self.faults.draw(self._rng)

    async def _chat(self, http: web.Request) -> web.StreamResponse:
        body = await http.json()
        action = self._next_action()
        name = str(body.get("model"))
        with self._lock:
            self.stats.requests.append(body)
            self.stats.actions[action.split(":")[0]] += 1
            self.stats.auth.add(http.headers.get("Authorization", ""))
            self.stats.by_port[http.url.port or 0] += 1
        if name not in self.models:
            return _error(404, f"The model `{name}` does not exist.")
        self.stats.in_flight[name] += 1
        self.stats.peak[name] = max(self.stats.peak[name], self.stats.in_flight[name])
        try:
            if action in ("drip", "endless"):
                return await self._forever(http, action)
            auth = http.headers.get("Authorization", "")
            return await self._reply(body, action, self.models[name], auth)
        finally:
            self.stats.in_flight[name] -= 1

    async def _forever(self, http: web.Request, action: str) -> web.StreamResponse:
        """Headers at once, then whitespace (valid JSON padding) that never completes a body."""
        out = web.StreamResponse(headers={"Content-Type": "application/json"})
        await out.prepare(http)
        chunk, pause = (b" ", self.faults.drip_s) if action == "drip" else (b" " * 65536, 0.0)
        loop = asyncio.get_running_loop()
        end = loop.time() + self.faults.forever_s
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while loop.time() < end:
                await out.write(chunk)
                await asyncio.sleep(pause)
        return out

    async def _reply(
        self, body: dict[str, Any], action: str, model: ModelSpec, auth: str
    ) -> web.Response:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        kind, _, arg = action.partition(":")
        if kind == "429":
            headers = {"Retry-After": arg} if arg and arg != "None" else {}
            return _error(429, "Rate limit reached; slow down.", headers)
        if kind == "401":  # a careless server that echoes the key it got
            return _error(401, f"Incorrect API key provided: {auth}")
        if kind in ("500", "503"):
            return _error(int(kind), "The server had an error while processing your request.")
        if kind == "garbage":  # a proxy's error page instead of JSON
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if kind == "badjson":  # JSON that is not a chat completion
            return web.Response(text='{"choices": [', content_type="application/json")
        if kind == "stall":
            await asyncio.sleep(self.faults.stall_s)
        request = chat_request(body, model)
        text = respond(request)
        finish = "stop"
        if kind == "broken":
            text = BROKEN
        elif kind == "length":
            text, finish = text[: max(1, len(text) // 2)], "length"
        usage = None
        if self.faults.usage and kind != "nousage":
            ptok = sum(estimate_tokens(m.content) for m in request.messages)
            usage = (ptok, estimate_tokens(text))
        out = completion(
            f"chatcmpl-{len(self.stats.requests)}", body.get("model"), text, finish, usage
        )
        return web.json_response(out)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    payload = {"error": {"message": message, "type": "fake_error", "code": status}}
    return web.json_response(payload, status=status, headers=dict(headers or {}))


if __name__ == "__main__":
    with FakeOpenAIServer() as srv:
        print(srv.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
