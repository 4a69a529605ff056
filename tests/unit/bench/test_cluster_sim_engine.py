"""The cluster simulation's engine and node model (bench.cluster_sim) on small schedules."""

from __future__ import annotations

from collections import deque

import pytest

from agents.catalogue import ModelSpec
from bench import cluster_engine
from bench import cluster_sim as cs
from sweep import schedule
from sweep.schedule import Job


def test_batch_speed_saturates_at_max_num_seqs_and_a_lone_call_is_slow() -> None:
    assert cluster_engine.batch_speed(256, 256) == pytest.approx(1.0)
    assert cluster_engine.batch_speed(1000, 256) == pytest.approx(1.0)
    assert cluster_engine.batch_speed(1, 256) == pytest.approx(1 / 64, rel=0.02)
    assert cluster_engine.batch_speed(64, 256) < cluster_engine.batch_speed(128, 256) < 1.0


def run(
    kind: str, items: int = 400, work: float = 30.0
) -> tuple[dict[str, float], schedule.Schedule]:
    jobs = [Job("a", "H100", 2, items * work * 2, 60.0, replicas=4)]
    nodes = schedule.nodes_of({"H100": 16})
    sched = schedule.scheduled(jobs, nodes) if kind == "scheduled" else schedule.all_at_once(jobs)
    model = ModelSpec("a", "x/a", max_num_seqs=8)
    queues = {"a": deque(cs.Item(k, work, 8) for k in range(items))}
    ctx = {
        "judge": "judge:none",
        "models": {"a": model},
        "segment_of": {g.model: g for g in sched.segments},
        "segments": sched.segments,
        "last_part": dict.fromkeys(range(items), "a"),
    }
    return cs.Cluster(sched, queues, ctx).run(1.0, None, 0.0), sched


@pytest.mark.parametrize("kind", ["scheduled", "all_at_once"])
def test_a_saturated_sim_agrees_with_the_planner(kind: str) -> None:
    out, sched = run(kind)
    assert out["busy_gpu_h"] == pytest.approx(sched.work_gpu_s / 3600, rel=1e-6)
    assert out["makespan_h"] == pytest.approx(sched.makespan_s / 3600, rel=0.05)


def test_a_lost_node_costs_time_and_its_work_is_redone() -> None:
    jobs = [Job("a", "H100", 2, 400 * 30.0 * 2, 60.0, replicas=4)]
    sched = schedule.scheduled(jobs, schedule.nodes_of({"H100": 16}))
    model = ModelSpec("a", "x/a", max_num_seqs=8)
    ctx = {
        "judge": "judge:none",
        "models": {"a": model},
        "segment_of": {g.model: g for g in sched.segments},
        "segments": sched.segments,
        "last_part": dict.fromkeys(range(400), "a"),
    }

    def queues() -> dict[str, deque[cs.Item]]:
        return {"a": deque(cs.Item(k, 30.0, 8) for k in range(400))}

    ok = cs.Cluster(sched, queues(), ctx).run(1.0, None, 0.0)
    lost = cs.Cluster(sched, queues(), ctx).run(1.0, 0.5 * sched.makespan_s + 17.0, 120.0)
    assert lost["makespan_h"] > ok["makespan_h"]
    assert lost["busy_gpu_h"] > ok["busy_gpu_h"]  # in-flight work started over
    assert lost["nodes"] == ok["nodes"] + 1  # the replacement
