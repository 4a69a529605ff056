"""Token estimates from the rendered prompts, and calibration from a pilot (sweep.tokens)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agents.backends.sim import SimBackend
from sweep import tokens
from sweep.config import build, compose
from sweep.episode import run_episode
from sweep.plan import plan


@pytest.fixture(scope="module")
def specs():  # type: ignore[no-untyped-def]
    cfg, _ = build(compose(["sweep=smoke"]))
    return plan(cfg).specs


def totals(shapes, specs):  # type: ignore[no-untyped-def]
    p = c = 0.0
    for s in specs:
        for t in shapes[tokens.shape(s)].agents.values():
            p, c = p + t.prompt, c + t.completion
    return p, c


def test_every_shape_is_estimated_from_sim_calls(specs) -> None:  # type: ignore[no-untyped-def]
    est = tokens.estimate(specs, samples=1)
    assert set(est) == {tokens.shape(s) for s in specs}
    for k, st in est.items():
        assert st.agents[k[0]].calls >= 1 and st.agents[k[0]].prompt > 0
        assert st.judge.calls >= 1 and not st.measured


def test_longer_replies_grow_completions_and_the_prompts_that_quote_them(specs) -> None:  # type: ignore[no-untyped-def]
    base = totals(tokens.estimate(specs, 1.0, 1), specs)
    longer = totals(tokens.estimate(specs, 3.0, 1), specs)
    assert longer[1] == pytest.approx(3 * base[1], rel=0.05)  # completions (max_tokens caps few)
    assert base[0] < longer[0] < 3 * base[0]  # the task text does not grow, the quotes do


def test_the_prefix_cache_serves_repeated_prefixes_only() -> None:
    rec = tokens._Recorder(1.0, 8, 1024, 12000)
    assert rec._cache("a" * 64) == 0
    assert rec._cache("a" * 64 + "b" * 16) == 64  # the first 8 blocks were seen
    assert rec._cache("c" * 8 + "a" * 64) == 0  # a new first block: nothing reusable


def pilot_rows(specs, completion_factor: float):  # type: ignore[no-untyped-def]
    """Real runs rows of sim episodes, with replies ``completion_factor`` times longer."""
    rows = []
    for s in specs:
        out = asyncio.run(run_episode(dataclasses.replace(s, engine="sim"), SimBackend()))
        for r in out.runs:
            rows.append({**r, "completion_tokens": int(r["completion_tokens"] * completion_factor)})
    return rows


def test_a_pilot_with_longer_replies_replaces_the_estimate(specs) -> None:  # type: ignore[no-untyped-def]
    est = tokens.estimate(specs, 1.0, 1)
    mistral = [s for s in specs if s.model.name == "mistral_small_24b"]
    ran = mistral[:4]
    pilot = tokens.pilot_shapes(pilot_rows(ran, 3.0))
    cal = tokens.calibrate(est, pilot)
    for s in ran:
        k = tokens.shape(s)
        measured = cal[k].agents["mistral_small_24b"].completion
        assert cal[k].measured
        assert measured == pytest.approx(pilot[k]["c"])
        assert measured > 2 * est[k].agents["mistral_small_24b"].completion
    # Shapes the pilot did not run are scaled by the model's measured / estimated ratio ...
    other = next(s for s in mistral if tokens.shape(s) not in pilot)
    k = tokens.shape(other)
    ratio = (
        cal[k].agents["mistral_small_24b"].completion
        / est[k].agents["mistral_small_24b"].completion
    )
    assert ratio > 2 and not cal[k].measured
    # ... and a model the pilot never ran keeps its estimate.
    untouched = next(s for s in specs if s.model.name != "mistral_small_24b")
    assert cal[tokens.shape(untouched)] == est[tokens.shape(untouched)]
