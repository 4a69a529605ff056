"""The executor's phases on the simulated cluster (bench.cluster_phases), on small plans."""

from __future__ import annotations

from collections import deque

import pytest

from agents.catalogue import ModelSpec
from bench.cluster_engine import Item
from bench.cluster_phases import PhasedCluster
from sweep import phases
from sweep.config import build, compose
from sweep.phases import Phase
from sweep.plan import plan
from sweep.schedule import Job

WORK, WIDTH = 30.0, 8  # replica-seconds per episode, calls at once (a saturated engine)


def setup(n_a: int = 200, n_b: int = 40, judge: bool = True):
    """Two agent models' episodes (a: ``n_a``, b: ``n_b``) and a deferred judge's pass."""
    specs = list(plan(build(compose(["sweep=paper"]))[0]).specs)
    a_name, b_name = (
        specs[0].model.name,
        next(s.model.name for s in specs if s.model.name != specs[0].model.name),
    )
    order = [s for s in specs if s.model.name == a_name and s.shock is None][:n_a]
    order += [s for s in specs if s.model.name == b_name and s.shock is None][:n_b]
    models = {m: ModelSpec(m, f"x/{m}", max_num_seqs=WIDTH) for m in (a_name, b_name, "j")}
    queues = {
        a_name: deque(Item(k, WORK, WIDTH) for k in range(n_a)),
        b_name: deque(Item(k, WORK, WIDTH) for k in range(n_a, n_a + n_b)),
    }
    if judge:
        queues["judge:j"] = deque(Item(k, 2.0, 1) for k in range(n_a + n_b))
    jobs = {
        a_name: Job(a_name, "H100", 2, n_a * WORK * 2, 60.0),
        b_name: Job(b_name, "H100", 4, n_b * WORK * 4, 90.0),
        "j": Job("j", "H100", 8, (n_a + n_b) * 2.0 * 8, 120.0),
    }
    ps = (
        Phase((a_name,), ((a_name, 8), ("j", 0))),
        Phase((b_name,), ((b_name, 2), ("j", 0))),
        *([Phase((), (("j", 1),))] if judge else []),
    )
    ctx = {
        "judge": "judge:j",
        "judge_model": "j",
        "models": models,
        "last_part": {k: s.model.name for k, s in enumerate(order)},
    }
    return PhasedCluster(ps, queues, order, jobs, ctx), ps, jobs


def test_saturated_phases_take_what_the_planner_lays_out() -> None:
    sim, ps, jobs = setup()
    out = sim.run(1.0, None, 0.0)
    laid = phases.render(ps, list(jobs.values()), 8)
    assert out["busy_gpu_h"] == pytest.approx(laid.work_gpu_s / 3600, rel=1e-6)
    assert out["makespan_h"] == pytest.approx(laid.makespan_s / 3600, rel=0.05)
    assert out["billed_gpu_h"] == pytest.approx(laid.billed_gpu_s / 3600, rel=0.05)
    assert out["nodes"] == 2  # a's 8 replicas x 2 GPUs; b and the judge fit one


def test_the_judges_pass_waits_for_the_agents_and_judges_every_episode() -> None:
    with_judge = setup()[0].run(1.0, None, 0.0)
    without = setup(judge=False)[0].run(1.0, None, 0.0)
    judge_gpu_h = 240 * 2.0 * 8 / 3600
    assert with_judge["busy_gpu_h"] - without["busy_gpu_h"] == pytest.approx(judge_gpu_h)
    assert with_judge["makespan_h"] > without["makespan_h"] + 120 / 3600  # loaded after them


def test_a_lost_node_costs_time_and_its_in_flight_work_is_redone() -> None:
    ok = setup()[0].run(1.0, None, 0.0)
    lost = setup()[0].run(1.0, 0.3 * ok["makespan_h"] * 3600 + 7.0, 120.0)
    assert lost["makespan_h"] > ok["makespan_h"]
    assert lost["busy_gpu_h"] > ok["busy_gpu_h"]


def test_an_episode_no_phase_serves_is_refused() -> None:
    sim, ps, _ = setup()
    sim.phases = ps[1:]  # nobody runs a's episodes
    with pytest.raises(Exception, match="no deployment phase serves"):
        sim.run(1.0, None, 0.0)
