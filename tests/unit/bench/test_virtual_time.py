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


def route_one_episode(balance: str) -> list[dict]:
    """Three rounds of eight calls of one episode over 4 replicas: each replica's stats."""
    engines = VirtualEngines(EngineParams(capacity=8), replicas=4)
    model = catalogue()["mistral_small_24b"]
    shared = Message("system", "The rules of the round. " * 40)

    def call(agent: int) -> ChatRequest:
        user = Message("user", f"## Agent-specific\nYou are agent {agent}.")
        return ChatRequest(model, (shared, user), 0.7, 64, agent, None, affinity="episode-1")

    async def work() -> None:
        backend = engines.make_client(engines.urls, 64, 1, balance=balance)  # no diversion
        try:
            for _round in range(3):
                await asyncio.gather(*(backend.chat(call(a)) for a in range(8)))
        finally:
            await backend.aclose()

    engines.run(work)
    return [engines.get(f"/r{i}/stats") for i in range(4)]


def test_an_episode_stays_on_one_replica_under_affinity_not_under_power_of_two() -> None:
    affinity, p2c = route_one_episode("prefix_affinity"), route_one_episode("power_of_two")
    assert [p["requests"] for p in affinity if p["requests"]] == [24]
    assert sum(1 for p in p2c if p["requests"]) > 1
    assert sum(p["requests"] for p in p2c) == 24
    # the shared system prompt is prefilled once per replica that sees the episode
    assert sum(p["prefilled_tokens"] for p in p2c) > sum(p["prefilled_tokens"] for p in affinity)
    again = route_one_episode("power_of_two")  # seeded routing on a virtual clock: repeats
    assert [(p["requests"], p["prefilled_tokens"], p["window_s"]) for p in again] == [
        (p["requests"], p["prefilled_tokens"], p["window_s"]) for p in p2c
    ]
