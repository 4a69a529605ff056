"""``clonal``: a few seed agents propose; the others clone and improve a proposal, or abstain.

The paper only names this protocol (clonal selection); what follows is orgsweep's operationalisation
(docs/design/protocols.md section 3.8). The first ``m`` agents in protocol order are the seeds,
``m = ceil(sqrt(N))`` unless ``seeds`` overrides it. Round 1: the seeds propose in parallel, seeing
nobody. Round 2: the other agents, in parallel, see the seed proposals (role and contribution of
every seed that participated) and either clone one (adopt its role, improve its contribution,
``builds_on = [seed]``) or abstain. Clones act at the same time, so no proposal has an endorsement
yet when they choose; the instructions explain how affinity will be counted.

A clone's lineage is the first seed in its ``builds_on``; failing that, the seed whose role it
took. Its role is recorded as its seed's role (free role mode; in fixed mode the fixed role
stays). A participating non-seed in no lineage is kept in the ``agents`` table but not in the
deliverable (the protocol offers only clone or abstain). Affinity of a proposal = 1 + its clones.
The deliverable takes the lineages by affinity (ties: seed order) and from each its
``keep_per_lineage`` best contributions (0 = all), best first: by ``best = coverage`` the ones
tagging the most task requirements ``[Rn]`` (ties: the seed, then protocol order), by
``best = seed`` the seed's proposal first. Calls per task: N; rounds: 2 (1 when every agent is a
seed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.contract import normalise_role
from agents.prompts import VisibleTurn, render_seeds
from agents.protocols.checks import require_whole
from agents.protocols.steps import StepOutcome, in_parallel
from agents.runtime import StepRuntime, TurnRecord

BEST = ("coverage", "seed")
ROUND1 = (
    "Round 1 of 2: you are one of {m} seed agents proposing at the same time; you see nobody. "
    "Choose a role and make a proposal the other agents can clone and improve, or abstain."
)
ROUND2 = (
    "Round 2 of 2: above are the seed proposals. Clone exactly one: take its role, improve and "
    "extend its contribution, and put the seed's agent number in builds_on; or abstain if no "
    "proposal needs you. All non-seed agents decide at the same time. A proposal's affinity is "
    "1 + the number of its clones; the deliverable takes the best contribution of each lineage, "
    "highest affinity first."
)
_TAG = re.compile(r"\[R(\d+)\]")


@dataclass(frozen=True)
class Params:
    seeds: int | None = None
    keep_per_lineage: int = 1
    best: str = "coverage"

    def __post_init__(self) -> None:
        require_whole("clonal", "seeds", self.seeds, 1, optional=True)
        require_whole("clonal", "keep_per_lineage", self.keep_per_lineage, 0)
        if self.best not in BEST:
            raise ValueError(f"clonal: best={self.best!r}; valid: {', '.join(BEST)}")


def n_seeds(n: int, seeds: int | None) -> int:
    return min(n, seeds if seeds is not None else math.ceil(math.sqrt(n)))


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    m = n_seeds(len(rt.agents), params.seeds)
    seed_ids, others = rt.agents[:m], rt.agents[m:]
    proposals = await in_parallel(
        rt.turn(a, 1, visible="", instructions=ROUND1.format(m=m)) for a in seed_ids
    )
    live = [t for t in proposals if t.participate]
    visible = (
        "Seed proposals:\n"
        + render_seeds(VisibleTurn(t.agent, t.role, True, t.contribution) for t in live)
        if live
        else "No seed made a proposal."
    )
    clones = await in_parallel(
        rt.turn(a, 2, visible=visible, visible_agents={t.agent for t in live}, instructions=ROUND2)
        for a in others
    )
    lineages = {t.agent: [t] for t in live}
    for c in clones:
        seed = lineage_of(c, live)
        if seed is not None:
            lineages[seed].append(c)
            if c.agent not in rt.fixed_roles:  # a clone adopts its seed's role
                c.role = lineages[seed][0].role
    return StepOutcome(
        [*proposals, *clones],
        rounds=2 if others else 1,
        deliverable=select(lineages, params, {r.id for r in rt.task.requirements}),
    )


def lineage_of(clone: TurnRecord, seeds: Sequence[TurnRecord]) -> int | None:
    """The seed a participating clone descends from (None: not a clone)."""
    if not clone.participate:
        return None
    ids = {s.agent for s in seeds}
    first = next((b for b in clone.builds_on if b in ids), None)
    if first is not None:
        return first
    role = normalise_role(clone.role)
    return next((s.agent for s in seeds if normalise_role(s.role) == role), None)


def select(
    lineages: dict[int, list[TurnRecord]], params: Params, valid: set[int]
) -> list[TurnRecord]:
    """Lineages by affinity (1 + clones; ties: seed order), best contributions first."""
    order = sorted(lineages, key=lambda s: (-len(lineages[s]), list(lineages).index(s)))
    out: list[TurnRecord] = []
    for s in order:
        members = lineages[s]  # the seed first, then clones in protocol order
        if params.best == "coverage":
            members = sorted(
                members, key=lambda t: -len({int(r) for r in _TAG.findall(t.contribution)} & valid)
            )
        out += members[: params.keep_per_lineage or None]
    return out
