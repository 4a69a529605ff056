"""The engine benchmarks' virtual clock: waits take no real time, and a request through the
in-process ``openai`` backend takes exactly the engine's charged step time."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.backends.chat import ChatRequest, Message
from bench.sim_engine import EngineParams
from bench.virtual_time import VirtualEngines, VirtualLoop
from sweep.sim_openai import catalogue


def test_sleeping_advances_the_virtual_clock_not_the_real_one() -> None:
    loop = VirtualLoop()
    order: list[str] = []

    async def nap(name: str, s: float) -> float:
        await asyncio.sleep(s)
        order.append(name)
        return loop.time()

    async def main() -> list[float]:
        return await asyncio.gather(nap("long", 3600.0), nap("short", 60.0))

    t0 = time.monotonic()
    try:
        ends = loop.run_until_complete(main())
    finally:
        loop.close()
    assert ends == [3600.0, 60.0] and order == ["short", "long"]
    assert time.monotonic() - t0 < 60  # an hour of virtual time passed in far less


def test_a_lone_request_takes_the_engine_charged_time() -> None:
    engines = VirtualEngines(EngineParams(capacity=4))
    model = catalogue()["mistral_small_24b"]
    request = ChatRequest(
        model, (Message("system", "Rules. " * 200), Message("user", "Go.")), 0.7, 256, 1, None
    )

    async def work() -> object:
        backend = engines.make_client(engines.url, 4, 1)
        try:
            return await backend.chat(request)
        finally:
            await backend.aclose()

    reply, virtual_s = engines.run(work)
    st = engines.get("/stats")
    assert st["requests"] == 1 and st["prefilled_tokens"] == st["prompt_tokens"] > 300
    assert reply.completion_tokens == st["decode_tokens"] > 0  # type: ignore[attr-defined]
    assert virtual_s == pytest.approx(st["nominal_s"])
