"""The executor's deployment phases (sweep.phases): pure, from a schedule, no Ray; and the
executor running them against the fake runner pool of test_dispatch (no Ray instance)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agents.backends.options import Runtime, VllmOptions
from agents.backends.setup import RunnerSetup
from sweep import execute, phases, schedule
from sweep.config import BackendConfig, ClusterConfig, build, compose
from sweep.errors import UserError
from sweep.phases import Phase
from sweep.plan import plan
from sweep.schedule import Job, Segment
from tests.unit.sweep.test_deployment_schedule import jobs as schedule_jobs
from tests.unit.sweep.test_dispatch import FakePool, Writer, ok

H = 3600.0


def jobs() -> list[Job]:
    """The scheduler tests' jobs and a swap_model shock's replacement model."""
    return [*schedule_jobs(), Job("swap", "H100", 1, 0.5 * H, 100.0, replicas=1)]


AGENTS = ["big", "mid", "small", "huge"]
GPUS = {"H100": 32, "H200": 16}


def sched(judge: str = "deferred") -> schedule.Schedule:
    js = [
        dataclasses.replace(j, deferred=judge == "deferred", pinned=judge == "inline")
        if j.model == "judge"
        else j
        for j in jobs()
    ]
    return schedule.scheduled(js, schedule.nodes_of(GPUS))


def planned(judge: str = "deferred", cap: int | None = None) -> tuple[Phase, ...]:
    return phases.from_schedule(
        sched(judge),
        AGENTS,
        cap=cap,
        companions={"big": {"swap"}},
        pinned=["judge"] if judge == "inline" else [],
        last=["judge"] if judge == "deferred" else [],
    )


def gpus_by_type_of(p: Phase, gpu: str) -> dict[str, int]:
    kind = {j.model: j for j in jobs()}
    served = p.replicas_of().items()
    return {m: r * kind[m].gpus_per_replica for m, r in served if kind[m].gpu == gpu}


def gpus_by_type(p: Phase) -> dict[str, int]:
    kind = {j.model: j for j in jobs()}
    out: dict[str, int] = {}
    for m, r in p.replicas:
        out[kind[m].gpu] = out.get(kind[m].gpu, 0) + r * kind[m].gpus_per_replica
    return out


def test_every_agent_model_runs_in_exactly_one_phase_that_fits_the_cluster() -> None:
    ps = planned()
    assert sorted(m for p in ps for m in p.agents) == sorted(AGENTS)
    for p in ps:
        assert all(n <= GPUS[t] for t, n in gpus_by_type(p).items())
        assert all(r >= 1 for r in p.replicas_of().values())


def test_the_model_with_most_work_gets_the_replicas_the_schedule_serves_it_with() -> None:
    big = [g for g in sched().segments if g.model == "big"]
    peak = max(sum(o.replicas for o in big if o.start_s <= g.start_s < o.end_s) for g in big)
    first = planned()[0]
    assert "big" in first.agents and peak > 4  # catalogue: 4
    beside = sum(n for m, n in gpus_by_type_of(first, "H100").items() if m != "big")
    assert first.replicas_of()["big"] == min(peak, (GPUS["H100"] - beside) // 2)


def test_a_model_with_less_work_gets_the_replicas_that_finish_with_the_phase() -> None:
    first = planned()[0].replicas_of()
    served = {j.model: j for j in jobs()}
    span = served["big"].gpu_s / (first["big"] * served["big"].gpus_per_replica)
    for m, r in first.items():  # ends by the slowest's end, and one replica fewer would not
        rate = served[m].gpus_per_replica
        assert served[m].gpu_s / (r * rate) <= span * (1 + 1e-9)
        assert r == 1 or served[m].gpu_s / ((r - 1) * rate) > span
    assert first["swap"] < 8  # the schedule gave it a whole node


def test_a_swap_models_replacement_is_served_beside_the_model_it_replaces() -> None:
    for p in planned():
        if "big" in p.agents:
            assert "swap" in p.replicas_of()

    assert sum("swap" in p.replicas_of() for p in planned()) == 1


def test_the_deferred_judge_has_a_final_phase_and_the_inline_judge_is_in_every_phase() -> None:
    deferred = planned("deferred")
    assert deferred[-1] == Phase((), (("judge", 1),))
    assert all("judge" not in p.replicas_of() for p in deferred[:-1])
    assert all(dict(p.replicas)["judge"] == 0 for p in deferred[:-1])  # held back, not served
    inline = planned("inline")
    assert all(p.replicas_of().get("judge") == 1 for p in inline)
    for p in inline:  # the judge's node is not lent to the agents
        assert gpus_by_type(p)["H100"] <= GPUS["H100"]


def test_max_concurrent_models_caps_every_phase() -> None:
    for cap in (2, 3):
        ps = planned(cap=cap)
        assert all(len(p.replicas_of()) <= cap for p in ps[:-1])  # the judge's pass is its own
        assert sorted(m for p in ps for m in p.agents) == sorted(AGENTS)


def test_a_cap_below_a_model_and_its_swap_replacement_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="max_concurrent_models to 2"):
        planned(cap=1)
    with pytest.raises(UserError, match="max_concurrent_models to 2"):
        phases.by_cap(["big", "mid"], 1, {"big": {"swap"}})


def test_without_a_schedule_the_cap_groups_models_in_order_of_appearance() -> None:
    assert phases.by_cap(["a", "b", "c"], 2) == (Phase(("a", "b")), Phase(("c",)))
    assert phases.by_cap(["a", "b", "c"], None) == (Phase(("a", "b", "c")),)
    # a companion joins its model's phase; it runs no episodes of its own here
    assert phases.by_cap(["a", "b"], 2, {"b": {"x"}}) == (Phase(("a",)), Phase(("b",)))


def test_the_rendered_phases_run_one_after_another_and_hold_their_nodes_to_the_drain() -> None:
    ps = planned()
    r = phases.render(ps, jobs(), 8)
    starts = sorted({g.start_s for g in r.segments})
    assert len(starts) == len(ps)  # one start per phase: nothing overlaps a drain
    for t in starts:
        ends = {g.end_s for g in r.segments if g.start_s == t}
        assert len(ends) == 1  # every replica of a phase is released at its drain
    assert r.work_gpu_s == pytest.approx(sum(j.gpu_s for j in jobs()))
    assert r.billed_gpu_s >= r.lower_bound_gpu_s and 0 < r.busy_share <= 1
    today = schedule.all_at_once(jobs())
    assert r.billed_gpu_s < today.billed_gpu_s


def split_planned(share: float = 0.02) -> tuple[Phase, ...]:
    """``planned()`` with big's episodes that swap in ``swap`` a unit of their own."""
    return phases.from_schedule(
        sched(),
        AGENTS,
        companions={"big": {"swap"}},
        last=["judge"],
        swap_share={"big": share},
    )


def test_episodes_that_swap_in_a_model_are_a_unit_of_their_own() -> None:
    ps = split_planned()
    keys = [k for p in ps for k in p.agents]
    assert sorted(keys) == sorted([*AGENTS, "big+swap"])  # each work key in one phase
    (swap_phase,) = [p for p in ps if "big+swap" in p.agents]
    (main,) = [p for p in ps if "big" in p.agents]
    assert main is not swap_phase
    assert "swap" not in main.replicas_of()  # not held through big's other episodes
    assert {"big", "swap"} <= set(swap_phase.replicas_of())
    assert swap_phase.replicas_of()["big"] < main.replicas_of()["big"]
    for m in ("big", "swap", "mid"):  # each model's work is done once, over its phases
        assert sum(dict(p.work).get(m, 0.0) for p in ps) == pytest.approx(1.0)
    assert dict(main.work)["big"] == pytest.approx(0.98)
    assert "swapping" not in main.describe()
    assert "big (those swapping in swap)" in swap_phase.describe()


def test_splitting_the_swap_episodes_off_bills_less_than_serving_the_swap_model_throughout() -> (
    None
):
    js = jobs()
    together = phases.render(planned(), js, 8)
    apart = phases.render(split_planned(), js, 8)
    assert apart.work_gpu_s == pytest.approx(together.work_gpu_s)
    assert apart.billed_gpu_s < together.billed_gpu_s
    swap_gpu_s = sum((g.end_s - g.start_s) * g.gpus for g in apart.segments if g.model == "swap")
    held_gpu_s = sum((g.end_s - g.start_s) * g.gpus for g in together.segments if g.model == "swap")
    assert swap_gpu_s < held_gpu_s / 4


def test_trimming_replicas_keeps_the_executors_makespan_within_the_slack() -> None:
    ps = split_planned()
    served = phases._served(sched())
    at_peak = 0.0  # the phases one after another at the schedule's replicas
    for p in ps:
        at_peak += max(
            served[m].load_s
            + share * served[m].busy_gpu_s / (served[m].peak * served[m].gpus_per_replica)
            for m, share in p.work
        )
    r = phases.render(ps, jobs(), 8)
    assert r.makespan_s <= schedule.MAKESPAN_SLACK * at_peak + 1e-6
    # fewer loads would bill less, but not at any length: big keeps more than a node
    (main,) = [p for p in ps if "big" in p.agents]
    assert main.replicas_of()["big"] * served["big"].gpus_per_replica > 8


def test_a_phase_is_not_stretched_past_the_slack_to_save_loads() -> None:
    # Loads dominate: one node instead of three saves 22% of the bill but takes 2.4x as long.
    served = phases._Served("H100", 2, 0.0, 12, 50_000.0, 1_000.0)
    span = served.span_s(12)
    (kept,) = phases._trim_all([({"m": 12}, {"m": served}, span)], held=0, node=8)
    assert kept == {"m": 12}
    roomy = dataclasses.replace(served, load_s=100.0)
    (trimmed,) = phases._trim_all([({"m": 13}, {"m": roomy}, roomy.span_s(13))], held=0, node=8)
    assert trimmed == {"m": 12}  # 13 spill onto a fourth node for one replica: given back


def test_split_sends_an_episode_to_its_work_keys_phase() -> None:
    specs = list(plan(build(compose(["sweep=paper"]))[0]).specs)
    swapped = next(
        s
        for s in specs
        if s.shock is not None and s.shock.model is not None and s.shock.model.name != s.model.name
    )
    plain = next(s for s in specs if s.model.name == swapped.model.name and s.shock is None)
    key = phases.work_key(swapped)
    assert key == f"{swapped.model.name}+{swapped.shock.model.name}"
    assert phases.work_key(plain) == plain.model.name
    plan_ = (Phase((plain.model.name,)), Phase((key,)))
    parts = execute.split([(plain, 1), (swapped, 1)], plan_)
    assert [[s.episode_id for s, _ in part] for _, part in parts] == [
        [plain.episode_id],
        [swapped.episode_id],
    ]
    # without a unit of their own (the cap's phases), they run in their model's phase
    (only,) = execute.split([(plain, 1), (swapped, 1)], (Phase((plain.model.name,)),))
    assert len(only[1]) == 2


# ---- the executor runs the phases ----------------------------------------------------------


def fake_executor(monkeypatch: Any, pool: FakePool, prepare: Any) -> ClusterConfig:
    """``execute`` on ``pool`` (no Ray) with ``prepare`` as the backend's ``prepare_runners``;
    the cluster config to run it with."""
    monkeypatch.setattr(execute, "ray", pool)
    monkeypatch.setattr(execute, "EpisodeRunner", pool)
    monkeypatch.setattr(execute, "start_ray", lambda cluster: False)
    monkeypatch.setattr(execute, "backend_hook", lambda name, trait: prepare)
    monkeypatch.setattr(execute, "episodes_per_runner", lambda *a: 2)
    return dataclasses.replace(ClusterConfig(), runners=2, retry_backoff_s=0.0)


def test_execute_runs_each_phase_with_its_replicas_and_only_its_episodes(monkeypatch) -> None:
    specs = list(plan(build(compose(["sweep=smoke", "sweep.limit=12"]))[0]).specs)
    models = list(dict.fromkeys(s.model.name for s in specs))
    assert len(models) >= 2
    plan_ = (Phase((models[1],), ((models[1], 3),)), Phase(tuple(models[::2]), ((models[0], 5),)))
    pool = FakePool(ok)
    deployed: list[tuple[set[str], dict[str, int]]] = []
    stopped: list[int] = []

    class Serving:
        def shutdown(self) -> None:
            stopped.append(len(deployed))

    def prepare(batch, options, runners, recount, replicas) -> RunnerSetup:
        assert not stopped or stopped[-1] == len(deployed)  # the last phase was released
        deployed.append(({s.model.name for s in batch}, dict(replicas)))
        return RunnerSetup(recount(), Runtime(base_url="http://x"), Serving())

    cluster = fake_executor(monkeypatch, pool, prepare)
    work = [(s, 1) for s in specs if s.model.name in models[:3]]
    backend = BackendConfig("vllm", VllmOptions())
    prog = execute.execute(work, Writer(), backend, cluster, plan=plan_)
    assert prog.done == len(work)
    assert deployed == [
        ({models[1]}, {models[1]: 3}),
        (set(models[::2][:2]) & {s.model.name for s, _ in work}, {models[0]: 5}),
    ]
    assert stopped == [1, 2]  # each deployment released after its phase drained
    assert pool.calls[: sum(s.model.name == models[1] for s, _ in work)] == [
        (s.episode_id, 1) for s, _ in execute.longest_first(work) if s.model.name == models[1]
    ]


def test_execute_runs_the_planners_swap_unit_apart_with_the_replacement_model(
    monkeypatch,
) -> None:
    """The planner's phases for the paper sweep's mistral episodes, with and without a
    swap_model shock: the launch deploys the replacement only for the episodes that call it."""
    from sweep.plan_cost import executor_phases

    cfg = compose(["sweep=paper", "backend=vllm", "cluster=ray"])
    typed = build(cfg)[0]
    specs = list(plan(typed).specs)
    swapped = [s for s in specs if phases.work_key(s) != s.model.name][:6]
    model, other = swapped[0].model.name, swapped[0].shock.model.name
    plain = [s for s in specs if s.model.name == model and s.shock is None][:60]
    # planned for all of the model's episodes (a few swap ones in a small plan would join it)
    ps = executor_phases(cfg, typed, [s for s in specs if s.model.name == model])
    assert ps is not None and any(f"{model}+{other}" in p.agents for p in ps)
    pool = FakePool(ok)
    deployed: list[tuple[set[str], dict[str, int]]] = []

    class Serving:
        def shutdown(self) -> None:
            return None

    def prepare(batch, options, runners, recount, replicas) -> RunnerSetup:
        deployed.append(({execute.work_key(s) for s in batch}, replicas_of(replicas)))
        return RunnerSetup(recount(), Runtime(base_url="http://x"), Serving())

    def replicas_of(replicas: dict[str, int]) -> dict[str, int]:
        return {m: r for m, r in replicas.items() if r}

    cluster = fake_executor(monkeypatch, pool, prepare)
    work = [(s, 1) for s in plain + swapped]
    prog = execute.execute(work, Writer(), BackendConfig("vllm", VllmOptions()), cluster, plan=ps)
    assert prog.done == len(work)
    alone = [d for d in deployed if d[0] == {model}]
    apart = [d for d in deployed if f"{model}+{other}" in d[0]]
    assert len(alone) == 1 and len(apart) == 1
    assert other not in alone[0][1]  # not held through the model's other episodes
    assert {model, other} <= set(apart[0][1])


def test_an_episode_no_phase_serves_is_refused() -> None:
    specs = list(plan(build(compose(["sweep.limit=2"]))[0]).specs)
    with pytest.raises(UserError, match="no deployment phase serves"):
        execute.split([(specs[0], 1)], (Phase(("nobody",)),))


def test_a_launch_follows_the_planner_only_for_a_backend_that_serves_its_models() -> None:
    from sweep.plan_cost import executor_phases

    def for_(*overrides: str) -> Any:
        cfg = compose(["sweep=smoke", *overrides])
        typed, _ = build(cfg)
        return executor_phases(cfg, typed, plan(typed).specs), typed

    assert for_()[0] is None  # sim: the executor's one phase (or the cap's)
    local, typed = for_("backend=vllm", "cluster.max_concurrent_models=1")
    agents, judged = local[:-1], local[-1]  # the judge's deferred pass last (the default)
    assert [p.agents for p in agents] == [(m,) for m in dict.fromkeys(typed.blocks[0].models)]
    assert all(p.replicas_of() == {} for p in agents)  # no GPUs: the catalogue's replicas
    assert judged.replicas_of() == {typed.judge.model.name: typed.judge.model.replicas}
    ray_, typed = for_("backend=vllm", "cluster=ray", "cost.judge=inline")
    judge = typed.judge.model.name
    assert all(p.replicas_of().get(judge) for p in ray_)  # judged inline: served in every phase
    assert sorted(m for p in ray_ for m in p.agents) == sorted(set(typed.blocks[0].models))


def test_a_model_that_is_also_the_judge_runs_its_episodes_in_the_first_phase() -> None:
    ps = phases.from_schedule(sched("inline"), [*AGENTS, "judge"], pinned=["judge"])
    assert "judge" in ps[0].agents and all("judge" not in p.agents for p in ps[1:])
    work = [m for p in ps for m in p.agents]
    assert sorted(work) == sorted([*AGENTS, "judge"])  # each model's episodes in one phase


def test_a_deferred_judge_is_planned_in_a_last_phase_only_where_the_backend_serves_it() -> None:
    from sweep.plan_cost import executor_phases, judge_deferred

    def for_(*overrides: str) -> Any:
        cfg = compose(["sweep=smoke", "cost.judge=deferred", *overrides])
        typed, _ = build(cfg)
        specs = plan(typed).specs
        return executor_phases(cfg, typed, specs), judge_deferred(cfg, typed, specs), typed

    assert for_()[:2] == (None, False)  # sim: judged inline, nothing changes
    assert for_("backend=openai", "backend.api_key_env=null")[:2] == (None, False)
    for cluster in ("cluster=local", "cluster=ray"):  # GPUs undeclared / declared
        ps, deferred, typed = for_("backend=vllm", cluster)
        judge = typed.judge.model
        assert deferred and ps[-1].agents == () and set(ps[-1].replicas_of()) == {judge.name}
        assert all(dict(p.replicas)[judge.name] == 0 for p in ps[:-1])
        assert sorted(m for p in ps for m in p.agents) == sorted(set(typed.blocks[0].models))
    inline = for_("backend=vllm", "cluster=ray", "cost.judge=inline")
    assert not inline[1] and all(inline[2].judge.model.name in p.replicas_of() for p in inline[0])
    # a judge that is also an agent model is served with its episodes: judged inline
    _, deferred, typed = for_("backend=vllm", "judge.model=mistral_small_24b")
    assert not deferred


def test_a_replacement_that_would_spill_onto_another_node_takes_a_replica_of_its_model() -> None:
    """A model filling three nodes and its swap_model replacement (1 GPU): a replica fewer of
    the model keeps the phase on three nodes, which bills less than a fourth node."""
    segs = tuple(Segment(n, "H100", "big", 4, 8, 0.0, 60.0, 10 * H) for n in range(3))
    segs += (Segment(3, "H100", "swap", 1, 1, 0.0, 60.0, 0.5 * H),)
    s = schedule.Schedule("scheduled", segs, dict.fromkeys(range(4), 8), 1.0, 1.0)
    (only,) = phases.from_schedule(s, ["big"], companions={"big": {"swap"}})
    assert only.replicas_of() == {"big": 11, "swap": 1}  # 23 GPUs: three nodes, not four
    work = [Job("big", "H100", 2, 240 * H, 60.0), Job("swap", "H100", 1, 0.5 * H, 60.0)]
    assert set(phases.render((only,), work, 8).node_gpus) == {0, 1, 2}
