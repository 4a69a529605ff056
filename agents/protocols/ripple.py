"""``ripple``: agents act in waves of growing size, each wave seeing all earlier waves.

The paper only names this protocol (wave propagation; it reports that ripple approaches
sequential on adversarial tasks with more parallelism); what follows is orgsweep's
operationalisation (docs/design/protocols.md section 3.5). Agents act in index order in waves of
sizes 1, g, g^2, ... (``growth`` = g; the last wave takes whoever is left). Agents of a wave act in
parallel and see the complete turns of every earlier wave: the information of ``sequential``,
batched. Calls per task: N; rounds: the number of waves (about log_g N).

With ``growth = 1`` every wave holds one agent and ripple *is* sequential: the prompts, round
numbers and seeds are identical, so the turns are too (tested). The same context policy as
sequential applies (``context_budget_tokens``; recorded as ``context_compacted``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.protocols import sequential
from agents.protocols.checks import require_whole
from agents.protocols.steps import StepOutcome, in_parallel, visible_turns
from agents.runtime import StepRuntime, TurnRecord

WAVES = (
    "Agents act in waves of growing size (1, then {g}, then {g2}, ...) in a fixed order; the "
    "agents of one wave act at the same time. Above are the completed turns of all agents in "
    "earlier waves. Choose your own role and decide whether to participate; abstain if you "
    "would add nothing useful."
)


@dataclass(frozen=True)
class Params:
    growth: int = 2
    context_budget_tokens: int = 6000

    def __post_init__(self) -> None:
        require_whole("ripple", "growth", self.growth, 1)


def waves(agents: Sequence[int], growth: int) -> list[list[int]]:
    """``agents`` cut into consecutive waves of sizes 1, g, g^2, ... (the last one may be short)."""
    out: list[list[int]] = []
    size, start = 1, 0
    while start < len(agents):
        out.append(list(agents[start : start + size]))
        start += size
        size *= growth
    return out


def instructions(growth: int) -> str:
    if growth == 1:  # one agent per wave: say exactly what sequential says
        return sequential.INSTRUCTIONS
    return WAVES.format(g=growth, g2=growth * growth)


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    done: list[TurnRecord] = []
    compacted = False
    text_ = instructions(params.growth)
    plan = waves(rt.agents, params.growth)
    for rnd, wave in enumerate(plan, start=1):
        text, c = visible_turns(done, params.context_budget_tokens)
        compacted |= c
        seen = frozenset(t.agent for t in done)
        done += await in_parallel(
            rt.turn(a, rnd, visible=text, visible_agents=seen, instructions=text_) for a in wave
        )
    return StepOutcome(done, rounds=len(plan), context_compacted=compacted)
