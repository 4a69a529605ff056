"""Issue 16 item 7: ``sweep.limit=K`` draws a stratified pilot (sweep.pilot's rule)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sweep.cli import main
from sweep.config import build, compose
from sweep.pilot import block_order, pilot
from sweep.plan import plan


@pytest.fixture(scope="module")
def paper():
    typed, _ = build(compose(["sweep=paper"]))
    return typed, plan(typed)


def test_paper_pilot_of_50_covers_every_block(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "sweep=paper", "sweep.limit=50", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    typed, _ = build(compose(["sweep=paper"]))
    assert s["episodes"] == 50
    assert set(s["by_block"]) == {b.name for b in typed.blocks}


def test_pilot_is_a_subset_in_plan_order_and_reaches_each_blocks_largest_n(paper) -> None:
    typed, full = paper
    small = plan(dataclasses.replace(typed, limit=50))
    position = {e: i for i, e in enumerate(full.ids)}
    assert set(small.ids) <= set(full.ids)
    assert [position[e] for e in small.ids] == sorted(position[e] for e in small.ids)
    for b in typed.blocks:
        ns = [s.n_agents for s in small.specs if s.block == b.name]
        assert min(ns) == min(b.n_agents)
        if len(b.n_agents) > 1:
            assert max(ns) == max(b.n_agents), b.name


def test_full_plan_is_unchanged_by_the_pilot_rule(paper) -> None:
    typed, full = paper
    assert pilot(full.specs, len(full.specs)) == list(full.specs)
    assert plan(dataclasses.replace(typed, limit=10**9)).ids == full.ids


def test_block_order_alternates_the_extremes_of_n_then_the_rest(paper) -> None:
    _, full = paper
    block = [s for s in full.specs if s.block == "s2_scaling"]
    lo, hi = min(s.n_agents for s in block), max(s.n_agents for s in block)
    order = [s.n_agents for s in block_order(block)]
    assert order[:4] == [lo, hi, lo, hi]
    k = sum(1 for s in block if s.n_agents in (lo, hi))
    assert set(order[:k]) == {lo, hi} and lo not in order[k:] and hi not in order[k:]


def test_plan_counts_sort_n_numerically(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "sweep=paper", "--json"]) == 0
    ns = list(json.loads(capsys.readouterr().out)["by_n_agents"])
    assert ns == sorted(ns, key=int) and ns[:3] == ["4", "8", "16"]


def test_a_small_pilot_spans_every_model_and_protocol_cell() -> None:
    typed, _ = build(compose(["sweep.limit=12"]))  # smoke: 3 models x 4 protocols x N 4, 8
    specs = plan(typed).specs
    assert len({(s.model.name, s.protocol) for s in specs}) == 12
    assert {s.n_agents for s in specs} == {4, 8}
