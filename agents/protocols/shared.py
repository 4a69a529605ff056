"""``shared`` (from the paper): all agents act at once, seeing only organisational memory.

Memory is, for each earlier step of the episode, the role every agent took (empty at step 0
unless ``memory_prior`` supplies one line). No peer of the current step is visible, so role
duplication is expected and measured. Calls per task: N; rounds: 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.prompts import render_memory
from agents.protocols.steps import StepOutcome, in_parallel
from agents.runtime import StepRuntime

INSTRUCTIONS = (
    "All agents act at the same time and cannot see each other's work for this task. Use the "
    "organisational memory above (roles taken in earlier steps) to choose your own role, and "
    "decide whether to participate."
)


@dataclass(frozen=True)
class Params:
    memory_prior: str = ""


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    memory = render_memory(rt.memory)
    if params.memory_prior:
        memory = f"{params.memory_prior}\n{memory}".strip()
    visible = f"Organisational memory:\n{memory}" if memory else ""
    turns = await in_parallel(
        rt.turn(a, 1, visible=visible, instructions=INSTRUCTIONS) for a in rt.agents
    )
    return StepOutcome(turns, rounds=1)
