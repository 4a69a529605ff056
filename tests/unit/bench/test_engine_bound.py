"""The engine model's capacity bound against what ``Engine._step`` charges: equal on a trace
with no contention, never exceeded, and the first token sampled by the prefill step (vLLM)."""

from __future__ import annotations

import asyncio

import pytest

from bench.sim_engine import Engine, EngineParams, bound

P, D = 200, 40  # prompt tokens (12 full blocks + a tail), reply tokens


def prompt(i: int) -> list[int]:
    """A prompt of P tokens that shares nothing with any other."""
    return list(range(1000 * i, 1000 * i + P))


def charged(engine: Engine, refill: int = 0) -> float:
    """Drive the scheduler without a clock; each finished request is replaced at once by a
    fresh one while ``refill`` remain. Returns the summed step time."""
    fresh = iter(range(10_000, 10_000 + refill))

    def replace(_: object) -> None:
        i = next(fresh, None)
        if i is not None:
            engine.submit(prompt(i), D)

    return engine.run_untimed(replace)


def run(params: EngineParams, cohorts: int = 0, stream: int = 0) -> tuple[Engine, float]:
    async def go() -> tuple[Engine, float]:
        e = Engine(params)
        total = 0.0
        for k in range(max(cohorts, 1)):
            for i in range(params.capacity):
                e.submit(prompt(k * params.capacity + i), D)
            total += charged(e, refill=stream)
        return e, total

    return asyncio.run(go())


def test_cohorts_with_no_contention_reach_the_bound_exactly() -> None:
    params = EngineParams(capacity=8)  # 8 x 200 prompt tokens fit one 2,048-token chunk
    e, total = run(params, cohorts=5)
    st = e.stats()
    assert st["decode_tokens"] == 5 * 8 * D
    assert st["prefilled_tokens"] == st["prompt_tokens"] == 5 * 8 * P
    assert st["nominal_s"] == pytest.approx(total)
    b = bound(params, P, D, prefill=P)
    assert b["chunk_fits"] and b["batch"] == 8
    assert st["decode_tokens"] / total == pytest.approx(b["tokens_per_s"], rel=1e-9)


def test_a_steady_stream_stays_under_the_bound_by_about_one_step_per_request() -> None:
    params = EngineParams(capacity=8)
    e, total = run(params, stream=400)
    rate = e.stats()["decode_tokens"] / total
    best = bound(params, P, D, prefill=P)["tokens_per_s"]
    assert rate <= best
    # a step that prefills one request also pays its fixed decode-step cost: <= step(C) / D
    per_token_extra = params.step_time(params.capacity) / params.capacity / D
    assert 1 / rate - 1 / best <= per_token_extra * 1.05


@pytest.mark.parametrize("target", [1, 3])
def test_the_prefill_step_samples_the_first_token(target: int) -> None:
    async def go() -> Engine:
        e = Engine(EngineParams(capacity=1))
        e.submit(prompt(1), target)
        charged(e)
        return e

    st = asyncio.run(go()).stats()
    assert st["steps"] == target  # prefill (+ first token), then target - 1 decode steps
    assert st["decode_tokens"] == target
    assert st["charged_prefill_s"] == pytest.approx(P * EngineParams().prefill_s_per_token)


def test_the_bound_holds_the_kv_budget() -> None:
    small = EngineParams(capacity=64, kv_tokens=20 * (P + D))
    b = bound(small, P, D, prefill=P)
    assert b["batch"] < 64
    assert b["tokens_per_s"] < bound(EngineParams(capacity=64), P, D, prefill=P)["tokens_per_s"]
