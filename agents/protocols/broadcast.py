"""``broadcast`` (from the paper): two parallel rounds, intentions then final turns.

Round 1: every agent states an intention (role, participate, rationale) seeing nobody. Round 2:
every agent sees all round-1 intentions and makes its final turn. Calls per task: 2N; rounds: 2.
``intentions_changed`` counts agents whose final role or participation differs from round 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.prompts import render_intentions
from agents.protocols.steps import StepOutcome, in_parallel, intentions_changed
from agents.runtime import StepRuntime

ROUND1 = (
    "Round 1 of 2: all agents announce their intentions at the same time. State the role you "
    "intend to take and whether you will participate."
)
ROUND2 = (
    "Round 2 of 2: above are every agent's round-1 intentions. Make your final decision and do "
    "the work; you may change your intention."
)


@dataclass(frozen=True)
class Params:
    pass


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    intents = await in_parallel(
        rt.turn(a, 1, visible="", instructions=ROUND1, intention=True) for a in rt.agents
    )
    text = render_intentions(
        (t.agent, t.role, t.participate, t.rationale) for t in intents if not t.parse_error
    )
    seen = frozenset(t.agent for t in intents if not t.parse_error)
    finals = await in_parallel(
        rt.turn(
            a, 2, visible=f"Round-1 intentions:\n{text}", visible_agents=seen, instructions=ROUND2
        )
        for a in rt.agents
    )
    return StepOutcome(finals, rounds=2, intentions_changed=intentions_changed(intents, finals))
