"""Episode identity and pure planning."""

from __future__ import annotations

import dataclasses

import pytest

from sweep.config import build, compose
from sweep.plan import plan, summary
from sweep.spec import episode_id


@pytest.fixture(scope="module")
def smoke():
    return build(compose([]))[0]


def test_episode_id_is_canonical_json_hash() -> None:
    assert episode_id({"a": 1, "b": [1, 2]}) == episode_id({"b": [1, 2], "a": 1})
    assert episode_id({"a": 1}) != episode_id({"a": 2})
    assert len(episode_id({})) == 16


def test_plan_is_pure_and_counts_the_grid(smoke) -> None:
    p1, p2 = plan(smoke), plan(smoke)
    assert p1.ids == p2.ids
    block = smoke.blocks[0]
    expected = (
        len(block.models)
        * len(block.protocols)
        * len(block.n_agents)
        * len(block.roles)
        * len(block.levels)
        * len(block.seeds)
        * block.tasks_per_cell
    )
    assert len(p1.specs) == expected >= 20
    assert len(set(p1.ids)) == len(p1.ids)
    s = summary(p1)
    assert s["total_runs"] == expected
    assert set(s["by_protocol"]) == {"coordinator", "sequential", "broadcast", "shared"}


def test_identity_changes_with_result_fields_only(smoke) -> None:
    spec = plan(smoke).specs[0]
    same = dataclasses.replace(spec, block="other", sweep="other", store_prompts=True)
    assert same.episode_id == spec.episode_id
    for change in (
        {"seed": spec.seed + 1},
        {"n_agents": spec.n_agents + 1},
        {"temperature": 0.1},
        {"mission": "another mission"},
        {"roles": "fixed"},
        {"prompt_version": "p-test"},
        {"model": dataclasses.replace(spec.model, revision="abc123")},
        {"judge": dataclasses.replace(spec.judge, rubric_version="r-test")},
        {"protocol_params": (("context_budget_tokens", 1),)},
        {"engine": "llm" if spec.engine == "sim" else "sim"},
    ):
        assert dataclasses.replace(spec, **change).episode_id != spec.episode_id, change


def test_runtime_knobs_do_not_change_ids() -> None:
    a = plan(build(compose([]))[0]).ids
    b = plan(
        build(compose(["cluster.runners=1", "cluster.max_attempts=7", "results_dir=x"]))[0]
    ).ids
    assert a == b


def test_limit_takes_the_first_k(smoke) -> None:
    full = plan(smoke).ids
    limited = plan(build(compose(["sweep.limit=5"]))[0]).ids
    assert limited == full[:5]


def test_cells_of_a_block_share_tasks(smoke) -> None:
    specs = plan(smoke).specs
    l1 = {s.tasks[0].content_hash for s in specs if s.level == "L1"}
    assert len(l1) == smoke.blocks[0].tasks_per_cell


def test_fixed_roles_skip_the_coordinator() -> None:
    cfg = build(compose(["sweep.blocks.0.roles=[fixed]"]))[0]
    p = plan(cfg)
    assert {s.protocol for s in p.specs} == {"sequential", "broadcast", "shared"}
    assert sum(p.skipped.values()) > 0
