"""Episode identity and pure planning."""

from __future__ import annotations

import dataclasses

import pytest

from sweep.config import build, compose
from sweep.plan import plan, plan_summary
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
    s = plan_summary(p1)
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


def test_limit_draws_a_pilot_across_n(smoke) -> None:
    full = plan(smoke).specs
    limited = plan(build(compose(["sweep.limit=5"]))[0]).specs
    assert len(limited) == 5 and set(limited) <= set(full)  # sweep.pilot has the rule
    assert {s.n_agents for s in limited} == {4, 8}  # both ends of N, not the first 5 cells


def test_cells_of_a_block_share_tasks(smoke) -> None:
    specs = plan(smoke).specs
    l1 = {s.tasks[0].content_hash for s in specs if s.level == "L1"}
    assert len(l1) == smoke.blocks[0].tasks_per_cell


def test_fixed_roles_skip_the_coordinator() -> None:
    cfg = build(compose(["sweep.blocks.0.roles=[fixed]"]))[0]
    p = plan(cfg)
    assert {s.protocol for s in p.specs} == {"sequential", "broadcast", "shared"}
    assert sum(p.skipped.values()) > 0


# ---- episodes in flight per runner (sweep.sizing) -------------------------------------------


def _specs(smoke, protocol: str, n: int, k: int = 4) -> list:
    from agents.catalogue import ModelSpec

    model = ModelSpec(name="m", hf_id="org/m", replicas=4, max_num_seqs=256)
    base = plan(smoke).specs[0]
    return [dataclasses.replace(base, protocol=protocol, n_agents=n, model=model)] * k


def test_episodes_per_runner_fill_the_engines_twice_over(smoke) -> None:
    from agents.backends import parse_options
    from sweep.sizing import CEILING, FLOOR, episodes_per_runner

    def per_runner(
        specs: list, backend: str, options: dict, runners: int, replicas: dict | None = None
    ) -> int:
        keyless = {"api_key_env": None} if backend == "openai" else {}  # no key needed here
        typed = parse_options(backend, {**keyless, **options})  # as sweep.config.build does
        return episodes_per_runner(specs, backend, typed, runners, replicas)

    par, seq = _specs(smoke, "coordinator", 8), _specs(smoke, "sequential", 8)
    openai = {"admission_headroom": 0.25}
    # 4 replicas x 256 seqs x 1.25 = 1,280 slots; 8 calls in flight per episode; 4 runners.
    assert per_runner(par, "openai", openai, runners=4) == 2 * 1280 // 8 // 4 == 80
    # A chain of turns holds one call at a time: eight times the episodes.
    assert per_runner(seq, "openai", openai, runners=4) == 640
    # Two endpoints double the slots; max_in_flight replaces the model's capacity.
    two = {**openai, "base_url": ["http://a/v1", "http://b/v1"]}
    assert per_runner(par, "openai", two, runners=4) == 160
    assert per_runner(par, "openai", {"max_in_flight": 512}, runners=4) == 32
    assert per_runner(par, "vllm", {**openai, "max_replicas": 1}, runners=4) == 20
    # Serve's autoscaling floor above the model's replicas: slots for the 8 Serve keeps.
    assert per_runner(par, "vllm", {**openai, "min_replicas": 8}, runners=4) == 160
    # A deployment phase's replicas (sweep/phases.py) in place of the catalogue's 4.
    assert per_runner(par, "vllm", openai, runners=4, replicas={"m": 12}) == 240
    # The sim has no engine; a tiny engine never starves a runner; a huge one is capped.
    assert per_runner(par, "sim", {}, runners=4) == FLOOR
    assert per_runner(par, "openai", {"max_in_flight": 8}, runners=4) == FLOOR
    assert per_runner(seq, "openai", {"max_in_flight": 10**6}, runners=1) == CEILING


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_episodes_per_runner_must_be_a_whole_number_or_null(bad: str) -> None:
    from sweep.config import ConfigError

    with pytest.raises(ConfigError, match=r"cluster\.episodes_per_runner"):
        build(compose([f"cluster.episodes_per_runner={bad}"]))
    assert (
        build(compose(["cluster.episodes_per_runner=null"]))[0].cluster.episodes_per_runner is None
    )
