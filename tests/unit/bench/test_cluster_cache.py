"""The cluster simulation's prefix-cache calibration (bench.cluster_cache): a replica's block
pool shares blocks across the episodes it serves and evicts when it is full."""

from __future__ import annotations

from bench.cluster_cache import BLOCK, CHARS, Replay, engine_shares, interleave
from bench.prefix_cache import BlockPool
from sweep import cost
from sweep.config import build, compose
from sweep.plan import plan

SHARED = "s" * (BLOCK * CHARS * 4)  # four full blocks


def test_a_prompt_prefix_seen_before_is_served_from_the_pool() -> None:
    r = Replay(BlockPool(64), seqs=4)
    r.call(SHARED + "a" * 64)
    r.call(SHARED + "b" * 64)
    assert r.hit_tokens == 4 * BLOCK
    assert r.prompt_tokens == 2 * len(SHARED + "a" * 64) // CHARS


def test_a_full_pool_evicts_and_hits_drop() -> None:
    texts = [SHARED + chr(97 + i) * 64 * 8 for i in range(6)]
    big, small = Replay(BlockPool(256), seqs=2), Replay(BlockPool(14), seqs=2)
    for t in [*texts, *texts]:
        big.call(t)
        small.call(t)
    assert small.pool.evictions > 0 and small.hit_tokens < big.hit_tokens


def test_interleave_takes_one_call_of_each_episode_in_turn() -> None:
    a, b = [("m", "a1"), ("m", "a2")], [("m", "b1")]
    assert interleave([a, b]) == [("m", "a1"), ("m", "b1"), ("m", "a2")]


def test_the_judge_shares_its_rubric_across_episodes() -> None:
    typed, _ = build(compose(["sweep=smoke", "backend=vllm"]))
    specs = list(plan(typed).specs)
    s = cost.default_settings()
    alone = engine_shares(specs, typed.models, typed.judge.model, s, windows=1, window=1)
    together = engine_shares(specs, typed.models, typed.judge.model, s, windows=1, window=8)
    assert all(0 <= v <= 1 for v in together.values())
    assert together["judge"] > alone["judge"]
