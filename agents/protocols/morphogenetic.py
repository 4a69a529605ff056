"""``morphogenetic``: local signalling on a topology; agents differentiate from their neighbours.

The paper only names this protocol; what follows is orgsweep's operationalisation
(docs/design/protocols.md section 3.7). Agents sit on a fixed topology over the organisation's
indices 0..N-1 (so it stays the same across steps; a removed agent leaves a gap):

- ``ring`` (default): the ``neighbours`` agents on each side (wrapping around);
- ``grid``: row-major on a grid ``ceil(sqrt(N))`` wide, up to ``neighbours`` cells away along
  each axis (no wrapping);
- ``power_law``: a Barabasi-Albert graph, each new agent linking to ``neighbours`` earlier ones
  with probability proportional to their degree (seeded by the episode seed).

Round 1: every agent states a tentative role (an intention: role, participate, rationale),
seeing nobody. Round 2: each agent sees only its neighbours' round-1 intentions (not its own,
not anyone else's) and makes its final turn: differentiate from the neighbours, or abstain.
Contrast with ``broadcast``, where round 2 sees everyone. Calls per task: 2N; rounds: 2.
``intentions_changed`` counts agents whose final role or participation differs from round 1.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from agents.prompts import render_intentions
from agents.protocols.checks import require_whole
from agents.protocols.steps import StepOutcome, in_parallel, intentions_changed
from agents.runtime import StepRuntime, derive_seed

TOPOLOGIES = ("ring", "grid", "power_law")
ROUND1 = (
    "Round 1 of 2: every agent picks a tentative role at the same time, seeing nobody. State the "
    "role you intend to take and whether you will participate."
)
ROUND2 = (
    "Round 2 of 2: above are the tentative roles of your neighbours only (the agents next to you "
    "in the organisation's {topology} topology); you cannot see anyone else. Make your final "
    "decision and do the work: take a role that complements your neighbours' instead of "
    "duplicating it, or abstain if they already cover what you would do."
)
# p2 shows the neighbours' roles in the prompt's last (agent-specific) section.
ROUND2_P2 = ROUND2.replace(
    "above are the tentative roles", "the last section shows the tentative roles"
)


@dataclass(frozen=True)
class Params:
    topology: str = "ring"
    neighbours: int = 2

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ValueError(
                f"morphogenetic: topology={self.topology!r}; valid: {', '.join(TOPOLOGIES)}"
            )
        require_whole("morphogenetic", "neighbours", self.neighbours, 1)


def topology(kind: str, n: int, k: int, seed: int) -> dict[int, set[int]]:
    """Undirected neighbourhoods over agents 0..n-1."""
    adj: dict[int, set[int]] = {i: set() for i in range(n)}

    def link(a: int, b: int) -> None:
        if a != b:
            adj[a].add(b)
            adj[b].add(a)

    if kind == "ring":
        for i in range(n):
            for d in range(1, k + 1):
                link(i, (i + d) % n)
    elif kind == "grid":
        w = math.ceil(math.sqrt(n))
        for i in range(n):
            c = i % w
            for d in range(1, k + 1):
                if c + d < w and i + d < n:
                    link(i, i + d)
                if i + d * w < n:
                    link(i, i + d * w)
    else:  # power_law
        rng = random.Random(seed)
        core = min(n, k + 1)
        for a in range(core):
            for b in range(a + 1, core):
                link(a, b)
        ends = [a for a in range(core) for _ in adj[a]] or list(range(core))
        for new in range(core, n):
            targets: set[int] = set()
            while len(targets) < min(k, new):
                targets.add(rng.choice(ends))
            for t in sorted(targets):
                link(new, t)
                ends += [new, t]
    return adj


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    adj = topology(
        params.topology, rt.n_agents, params.neighbours, derive_seed(rt.seed, "topology")
    )
    intents = await in_parallel(
        rt.turn(a, 1, visible="", instructions=ROUND1, intention=True) for a in rt.agents
    )
    by_agent = {t.agent: t for t in intents if not t.parse_error}
    note = (ROUND2 if rt.prompt_version == "p1" else ROUND2_P2).format(
        topology=params.topology.replace("_", "-")
    )

    def view(a: int) -> tuple[str, frozenset[int]]:
        seen = [by_agent[b] for b in sorted(adj[a]) if b in by_agent]
        lines = render_intentions((t.agent, t.role, t.participate, t.rationale) for t in seen)
        return (f"Tentative roles of your neighbours:\n{lines}" if seen else ""), frozenset(
            t.agent for t in seen
        )

    views = {a: view(a) for a in rt.agents}
    finals = await in_parallel(
        rt.turn(a, 2, visible="", own=views[a][0], visible_agents=views[a][1], instructions=note)
        for a in rt.agents
    )
    return StepOutcome(finals, rounds=2, intentions_changed=intentions_changed(intents, finals))
