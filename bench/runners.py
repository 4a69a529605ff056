"""Benchmark 2's two ways of running episodes against an OpenAI-compatible engine.

``run_orgsweep``: the executor's runner behaviour without Ray (one ``openai`` client per runner,
``episodes_per_runner`` episodes each, the AIMD window at ``max_in_flight``, as the default
admission would size it for the engine). ``run_naive``: one
coroutine per episode behind a semaphore of episodes, admission off. Both sample what the
clients hold (sent / waiting) every 50 ms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

NO_WINDOW = 1_000_000  # max_in_flight for the naive runner: admission control off


def client_options(url: str | list[str], max_in_flight: int, n_clients: int) -> dict[str, Any]:
    """The ``openai`` backend's options for a runner's client of the engine(s) at ``url``."""
    return {
        "base_url": url,
        "api_key_env": None,
        "max_in_flight": max_in_flight,
        "n_clients": n_clients,
    }


def http_client(url: str | list[str], max_in_flight: int, n_clients: int, **extra: Any) -> Any:
    from agents.backends import make_backend, parse_options

    options = {**client_options(url, max_in_flight, n_clients), **extra}
    return make_backend("openai", parse_options("openai", options))


async def _episode(spec: Any, backend: Any, tally: dict[str, int]) -> None:
    """One episode with the executor's retry rule (``sweep.retry``, the default cluster's
    attempts and backoff) on infrastructure errors."""
    from agents.backends.chat import InfraError
    from sweep.config import ClusterConfig
    from sweep.episode import run_episode
    from sweep.retry import retry_delay

    cluster = ClusterConfig()
    attempt = 1
    while True:
        try:
            await run_episode(spec, backend, attempt)
            tally["ok"] += 1
            return
        except InfraError as e:
            delay = retry_delay(
                attempt, cluster.max_attempts, cluster.retry_backoff_s, e.retry_after_s
            )
        if delay is None:
            tally["failed"] += 1
            return
        tally["retried"] += 1
        attempt += 1
        await asyncio.sleep(delay)


async def run_orgsweep(
    specs: Sequence[Any],
    url: str | list[str],
    capacity: int,
    runners: int,
    per_runner: int,
    mark: Callable,
    make_client: Callable[..., Any] = http_client,
    **options: Any,
) -> dict[str, Any]:
    """``capacity``: the window per endpoint; ``options``: more ``openai`` backend options;
    ``make_client(url, capacity, runners, **options)``: one runner's backend (default: the
    ``openai`` backend over HTTP)."""
    backends = [make_client(url, capacity, runners, **options) for _ in range(runners)]
    sampler = asyncio.create_task(_sample_windows(backends))
    todo = iter(specs)
    left = [len(specs)]
    tally = {"ok": 0, "retried": 0, "failed": 0}

    async def slot(backend: Any) -> None:
        for spec in todo:  # the runners share one queue, as the driver's dispatch does
            left[0] -= 1
            if left[0] == 0:
                mark()
            await _episode(spec, backend, tally)

    try:
        await asyncio.gather(*(slot(b) for b in backends for _ in range(per_runner)))
    finally:
        sampler.cancel()
        for b in backends:
            await b.aclose()
    return {**tally, **await sampler_result(sampler)}


async def run_naive(
    specs: Sequence[Any],
    url: str,
    episodes: int,
    mark: Callable,
    make_client: Callable[..., Any] = http_client,
) -> dict[str, Any]:
    backend = make_client(url, NO_WINDOW, 1)
    sampler = asyncio.create_task(_sample_windows([backend]))
    sem = asyncio.Semaphore(episodes)
    started = [0]
    tally = {"ok": 0, "retried": 0, "failed": 0}

    async def one(spec: Any) -> None:
        async with sem:
            started[0] += 1
            if started[0] == len(specs):
                mark()
            await _episode(spec, backend, tally)

    try:
        await asyncio.gather(*(one(s) for s in specs))
    finally:
        sampler.cancel()
        await backend.aclose()
    return {**tally, **await sampler_result(sampler)}


async def _sample_windows(backends: Sequence[Any], every_s: float = 0.05) -> dict[str, float]:
    """Time-averaged requests the clients hold: sent (in flight) and waiting for a slot."""
    sent = waiting = 0.0
    n = 0
    try:
        while True:
            await asyncio.sleep(every_s)
            ws = [w for b in backends for ep in b.endpoints for w in ep.windows.values()]
            sent += sum(w.in_flight for w in ws)
            waiting += sum(len(w._waiters) for w in ws)
            n += 1
    except asyncio.CancelledError:
        return {"client_in_flight": sent / max(n, 1), "client_waiting": waiting / max(n, 1)}


async def sampler_result(task: asyncio.Task) -> dict[str, float]:
    try:
        return await task
    except asyncio.CancelledError:
        return {"client_in_flight": float("nan"), "client_waiting": float("nan")}
