"""The engine model's prefix cache: chained block hashes, LRU of unreferenced blocks, shared
blocks counted once, preemption re-prefilling only what is no longer cached."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.prefix_cache import BLOCK, BlockPool, block_hashes, char_tokens
from bench.sim_engine import Engine, EngineParams, bound


def toks(*spans: tuple[int, int]) -> list[int]:
    """Token ids: concatenated ranges."""
    return [t for a, b in spans for t in range(a, b)]


def test_block_hashes_chain_and_cover_only_full_blocks() -> None:
    a = block_hashes(toks((0, 40)))
    assert len(a) == 2  # 40 tokens: two full blocks, the 8-token tail is not hashed
    b = block_hashes(toks((0, 16), (100, 132)))
    assert a[0] == b[0] and a[1] != b[1]
    # the same second block after a different first block hashes differently (chained)
    c = block_hashes([*range(500, 516), *range(16, 32)])
    assert c[1] != a[1]


def test_char_tokens_keep_a_shared_text_prefix() -> None:
    x, y = char_tokens("shared prefix text, then A"), char_tokens("shared prefix text, then B")
    assert x[:6] == y[:6] and x[-1] != y[-1]


def test_pool_counts_shared_blocks_once_and_evicts_the_least_recent() -> None:
    pool = BlockPool(6)
    h1 = block_hashes(toks((0, 48)))  # 3 blocks
    pool.acquire(h1, 0, 0)
    hits = pool.cached_prefix(h1)
    assert hits == 3 and pool.cost(h1, hits, 0) == 0
    pool.acquire(h1, hits, 0)  # a second sequence on the same prompt: no new block
    assert pool.held == 3
    pool.release(h1, 0)
    pool.release(h1, 0)
    assert pool.held == 0 and len(pool.lru) == 3 and pool.free == 6
    h2 = block_hashes(toks((1000, 1064)))  # 4 new blocks: one cached block must go
    pool.acquire(h2, 0, 0)
    assert pool.evictions == 1
    assert pool.cached_prefix(h1) == 2  # the tail block went first; the head is still cached


def test_pool_refuses_to_overrun() -> None:
    pool = BlockPool(2)
    pool.grow(2)
    with pytest.raises(RuntimeError, match="exhausted"):
        pool.grow(1)


def run_engine(params: EngineParams, prompts: list[Any], target: int = 4) -> Engine:
    async def go() -> Engine:
        e = Engine(params)
        for p in prompts:
            e.submit(p, target)
        e.run_untimed()
        return e

    return asyncio.run(go())


def test_a_shared_prefix_is_prefilled_once() -> None:
    shared = toks((0, 320))
    prompts = [[*shared, *range(10_000 * i, 10_000 * i + 40)] for i in range(1, 5)]
    st = run_engine(EngineParams(capacity=8), prompts).stats()
    assert st["prompt_tokens"] == 4 * 360
    assert st["prefilled_tokens"] == 320 + 4 * 40  # the shared 20 blocks once
    assert st["prefix_hits"] == 3 * 320
    assert st["hit_rate"] == pytest.approx(960 / 1440)
    assert st["ideal_prefill_tokens"] == st["prefilled_tokens"]
    assert st["evictions"] == 0


def test_without_sharing_everything_is_prefilled() -> None:
    prompts = [list(range(10_000 * i, 10_000 * i + 360)) for i in range(1, 5)]
    st = run_engine(EngineParams(capacity=8), prompts).stats()
    assert st["prefilled_tokens"] == st["prompt_tokens"] == 4 * 360
    assert st["hit_rate"] == 0.0


def test_lru_eviction_forces_a_later_request_to_prefill_again() -> None:
    a, b = toks((0, 320)), toks((5000, 5320))
    # 30 blocks: a (20) is cached after it ends, b (20) evicts half of it, then a again
    params = EngineParams(capacity=1, kv_tokens=30 * BLOCK, watermark=0.0)
    st = run_engine(params, [a, b, a], target=1).stats()
    assert st["evictions"] > 0
    assert st["prefilled_tokens"] > 2 * 320  # a's second visit found part of it evicted
    assert st["prefilled_tokens"] > st["ideal_prefill_tokens"]


def test_preemption_releases_blocks_and_readmission_reprefills_what_is_gone() -> None:
    # Two long decodes that cannot both fit: the newer is preempted, its prompt blocks stay
    # cached (nothing else needs them), so it re-prefills only its generated tokens + tail.
    p1, p2 = toks((0, 160)), toks((9000, 9160))
    params = EngineParams(capacity=2, kv_tokens=24 * BLOCK, watermark=0.0, chunk_tokens=4096)
    e = run_engine(params, [p1, p2], target=120)
    st = e.stats()
    assert st["preemptions"] >= 1
    assert st["recompute_tokens"] > 0
    assert e.pool.held == 0  # every block released at the end
    assert st["prefix_hits"] > 0  # the readmitted sequence found its prompt still cached


def test_prefill_bound_time_is_counted_when_prefill_dominates() -> None:
    prompts = [list(range(10_000 * i, 10_000 * i + 4000)) for i in range(1, 3)]
    st = run_engine(EngineParams(capacity=4), prompts, target=2).stats()
    assert st["prefill_bound_share"] > 0.5


def test_the_bound_counts_only_uncached_prefill() -> None:
    p = EngineParams()
    full, cached = bound(p, 1200, 80), bound(p, 1200, 80, prefill=100)
    assert cached["tokens_per_s"] > 2 * full["tokens_per_s"]
    assert cached["tokens_per_s"] < cached["raw_tokens_per_s"]
