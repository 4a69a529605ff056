"""``sequential`` (from the paper): agents act one at a time in index order.

Agent i sees the complete turns of agents 0..i-1 (role, participation, contribution), chooses its
own role and decides to participate or abstain. Calls per task: N; rounds: N. For large N, older
contributions are compacted past ``context_budget_tokens`` (orgsweep's policy; the paper is
silent on context handling).
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.protocols.steps import StepOutcome, visible_turns
from agents.runtime import StepRuntime, TurnRecord

INSTRUCTIONS = (
    "Agents act one at a time in a fixed order. Above are the completed turns of the agents "
    "before you. Choose your own role and decide whether to participate; abstain if you would "
    "add nothing useful."
)


@dataclass(frozen=True)
class Params:
    context_budget_tokens: int = 6000


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    done: list[TurnRecord] = []
    compacted = False
    for rnd, agent in enumerate(rt.agents, start=1):
        text, c = visible_turns(done, params.context_budget_tokens)
        compacted |= c
        done.append(
            await rt.turn(
                agent,
                rnd,
                visible=text,
                visible_agents={t.agent for t in done},
                instructions=INSTRUCTIONS,
            )
        )
    return StepOutcome(done, rounds=len(done), context_compacted=compacted)
