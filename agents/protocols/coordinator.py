"""``coordinator`` (from the paper): an extra agent plans, then included workers act in parallel.

The coordinator (not one of the N) reads the task and the worker list and returns a plan with an
assignment per worker (role, phase, focus, include). Included workers see the plan and their own
assignment, keep the assigned role and cannot abstain; excluded workers make no call and are
recorded ``excluded_by_coordinator``. Calls per task: 1 + included workers; rounds: 2. When the
coordinator's output stays invalid after one repair, every worker acts unassigned (recorded as
the coordinator's parse error), so the step still yields a deliverable.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.contract import Assignment, Plan
from agents.prompts import render_own_assignment, render_plan
from agents.protocols.steps import StepOutcome, in_parallel
from agents.runtime import COORDINATOR, StepRuntime, TurnRecord

INSTRUCTIONS = "Workers act in parallel. Do the work of your assignment."
UNASSIGNED = "The coordinator gave no usable plan. Workers act in parallel; choose a role."


@dataclass(frozen=True)
class Params:
    pass


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    workers = list(rt.agents)
    plan, coord = await rt.coordinate(workers)
    if plan is None:
        turns = await in_parallel(
            rt.turn(a, 2, visible="", instructions=UNASSIGNED) for a in workers
        )
        return StepOutcome(turns, rounds=2, coordinator=coord)
    # The coordinator numbers workers 0..len-1; map positions back to agent indices.
    by_pos = {a.agent: a for a in plan.assignments}
    local = Plan(
        plan.plan,
        tuple(Assignment(w, *_fields(by_pos.get(p), p)) for p, w in enumerate(workers)),
    )
    included = [a for a in local.assignments if a.include]
    done = await in_parallel(
        rt.turn(
            a.agent,
            2,
            visible=render_plan(local),
            own=render_own_assignment(local, a.agent),
            visible_agents={COORDINATOR},
            instructions=INSTRUCTIONS,
            must_participate=True,
            role=a.role,
        )
        for a in included
    )
    by_agent = {t.agent: t for t in done}
    turns = [
        by_agent.get(w) or TurnRecord(w, 2, abstain_reason="excluded_by_coordinator")
        for w in workers
    ]
    for t in done:  # workers implicitly build on the coordinator
        t.builds_on = (COORDINATOR, *(b for b in t.builds_on if b != COORDINATOR))
    return StepOutcome(turns, rounds=2, coordinator=coord)


def _fields(a: Assignment | None, pos: int) -> tuple[str, int, bool, str]:
    if a is None:  # a worker the plan forgot is not included
        return (f"worker {pos}", 1, False, "")
    return (a.role, a.phase, a.include, a.focus)
