"""The engine benchmarks in virtual time: runner, clients and engines in one event loop whose
clock jumps to the next timer whenever nothing is ready.

In real time (``bench/sim_server.py`` in its own process) an engine waits while the client's
CPU renders prompts, parses replies and speaks HTTP; on a loaded 2-core machine that wait, not
the engine, can set the pace. Here the same code runs (``sweep.episode.run_episode``, the
``openai`` backend's admission windows and endpoint choice, the engine's scheduler and prefix
cache, the server's request handling: ``bench.sim_server.answer``) but only the engine's step
charges take time: what the client does costs none, as on a GPU node whose runners have CPU to
spare. Results are then independent of the machine and its load: the same workload gives the
same tokens and the same engine time on every run.

``VirtualLoop`` is the loop; ``InProcessBackend`` is the ``openai`` backend with its HTTP
request replaced by a call into the engine of the chosen endpoint; ``VirtualEngines`` stands in
for the server process of ``bench/saturation.py`` and ``bench/affinity.py`` (``--clock
virtual``).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import selectors
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from openai.types.chat import ChatCompletion

from agents.backends import parse_options
from agents.backends.admission import Signal
from agents.backends.chat import InfraError
from agents.backends.openai import OpenAIBackend, _Endpoint
from agents.catalogue import ModelSpec
from bench.prefix_cache import BLOCK
from bench.runners import client_options
from bench.sim_engine import Engine, EngineParams
from bench.sim_server import answer
from sweep.sim_openai import catalogue


class _JumpSelector(selectors.DefaultSelector):
    """A selector whose waits advance the loop's virtual clock instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:  # nothing scheduled: only another thread can wake the loop
            return super().select(None)
        events = super().select(0)
        if not events and timeout > 0 and self.loop is not None:
            self.loop.now += timeout
        return events


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock (starts at 0 s)."""

    def __init__(self) -> None:
        selector = _JumpSelector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now


class InProcessBackend(OpenAIBackend):
    """The ``openai`` backend, each endpoint URL answered by an in-process ``Engine``."""

    def __init__(
        self,
        engines: Mapping[str, Engine],
        models: Mapping[str, ModelSpec],
        power_of_two: random.Random | None = None,
        only: str | None = None,
        elsewhere: str = "",
        **options: Any,
    ):
        """``power_of_two``: route as Ray Serve's default router does instead of by
        ``balance`` (two endpoints drawn with this generator, the less loaded one taken).
        ``only``/``elsewhere``: calls to any model but ``only`` go to the endpoint at URL
        ``elsewhere`` (the judge is another model, on GPUs of its own)."""
        super().__init__(parse_options("openai", options))
        self._engines = engines
        self._models = models
        self._p2c = power_of_two
        self._only = only
        self._elsewhere = _Endpoint(elsewhere)

    def _pick(self, request: Any) -> Any:
        if self._only is not None and request.model.name != self._only:
            return self._elsewhere
        if self._p2c is None or len(self.endpoints) < 2:
            return super()._pick(request)
        pair = self._p2c.sample(self.endpoints, 2)
        return min(pair, key=lambda ep: self._window(ep, request.model).load)

    async def _attempt(self, ep: Any, body: dict[str, Any]) -> tuple[Any, Any, Signal]:
        status, payload = await answer(self._engines[ep.url], self._models, body)
        if status != 200:
            error = InfraError(f"{ep.url}: {payload['error']['message']}", kind="server_error")
            return None, error, Signal.NEUTRAL
        return ChatCompletion.model_validate(payload), None, Signal.OK


class VirtualEngines:
    """Engines at made-up URLs on a virtual clock, in the shape of ``bench.saturation.Server``:
    ``url`` (or ``/r{i}/v1`` under ``root`` for replicas), ``run`` a runner against them,
    ``get`` the ``/stats`` of the last run. Each run starts from fresh engines, as a ``POST
    /reset`` of an idle server does."""

    def __init__(self, params: EngineParams, replicas: int = 1, only: str | None = None):
        """``only``: a model name; calls to every other model go to one more engine of
        ``params`` (``other`` in ``get``), not to these replicas."""
        self.params = params
        self.root = "http://virtual"
        self.url = f"{self.root}/v1"
        many = [f"{self.root}/r{i}/v1" for i in range(replicas)]
        self.urls = [self.url] if replicas <= 1 else many
        self.only = only
        self.other = f"{self.root}/other/v1"
        self.engines: dict[str, Engine] = {}
        self.models = catalogue()
        self.loop: VirtualLoop | None = None
        self._seeds = itertools.count()

    def make_client(self, url: Any, max_in_flight: int, n_clients: int, **extra: Any) -> Any:
        """A runner's client; ``balance="power_of_two"`` routes as Serve's default router
        (seeded per client: runs repeat exactly)."""
        options = {**client_options(url, max_in_flight, n_clients), **extra}
        p2c = None
        if options.get("balance") == "power_of_two":
            options["balance"] = "least_in_flight"
            p2c = random.Random(next(self._seeds))
        return InProcessBackend(self.engines, self.models, p2c, self.only, self.other, **options)

    def clock(self) -> float:
        return self.loop.time() if self.loop is not None else 0.0

    def run(self, work: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
        """``work()`` to its end on fresh engines; returns its result and the virtual seconds."""
        loop = self.loop = VirtualLoop()

        async def main() -> tuple[Any, float]:
            self.engines.clear()
            self._seeds = itertools.count()
            urls = [*self.urls, *([self.other] if self.only else [])]
            self.engines.update({u: Engine(self.params, clock=loop.time) for u in urls})
            tasks = [asyncio.create_task(e.run()) for e in self.engines.values()]
            t0 = loop.time()
            try:
                out = await work()
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            return out, loop.time() - t0

        try:
            return loop.run_until_complete(main())
        finally:
            loop.close()

    def get(self, path: str) -> dict[str, Any]:
        """``/stats``, ``/r{i}/stats`` or ``/other/stats`` of the last run."""
        if path.startswith("/other"):
            return self.engines[self.other].stats()
        i = int(path.split("/")[1][1:]) if path.startswith("/r") else 0
        return self.engines[self.urls[i]].stats()

    def one_engine_prefill(self) -> int:
        """Tokens one engine holding every block of the last run would have prefilled: each
        distinct block once over all replicas, plus every prompt's partial tail (the least any
        routing can reach)."""
        es = [self.engines[u] for u in self.urls]
        repeated = sum(len(e._seen) for e in es) - len(set().union(*(e._seen for e in es)))
        return sum(e.s.ideal_prefill_tokens for e in es) - BLOCK * repeated

    def post(self, path: str) -> dict[str, Any]:
        return {"ok": True}  # every run starts on fresh engines

    def cpu_s(self) -> float:
        return float("nan")  # the engines run in the client's process

    def close(self) -> None:
        self.engines.clear()
