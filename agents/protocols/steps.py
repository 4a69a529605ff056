"""What every protocol returns, and helpers two or more protocols share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass

from agents.backends.chat import estimate_tokens
from agents.contract import normalise_role
from agents.prompts import VisibleTurn, render_turns
from agents.runtime import TurnRecord


@dataclass
class StepOutcome:
    """A protocol's result for one step of an episode."""

    turns: list[TurnRecord]  # final turn of every active agent, in protocol order
    rounds: int
    deliverable: list[TurnRecord] | None = None  # selection/order; None = participating, in order
    coordinator: TurnRecord | None = None
    intentions_changed: int | None = None
    context_compacted: bool = False


async def in_parallel(calls: Iterable[Awaitable[TurnRecord]]) -> list[TurnRecord]:
    """One round: the calls run concurrently; results keep the calls' order."""
    return list(await asyncio.gather(*calls))


def visible_turns(turns: Sequence[TurnRecord], budget_tokens: int | None) -> tuple[str, bool]:
    """Render predecessors' turns, compacting the oldest when over ``budget_tokens``.

    The context policy of docs/design/protocols.md section 3.2: the newest contributions are
    shown in full; once their text exceeds the budget, older ones are shown as one line each
    (index, role, participate).
    Returns the text and whether anything was compacted.
    """
    shown: list[VisibleTurn] = []
    used = 0
    compacted = False
    for t in reversed(turns):
        cost = estimate_tokens(t.contribution) if t.participate else 0
        full = budget_tokens is None or used + cost <= budget_tokens
        if full:
            used += cost
        else:
            compacted = compacted or t.participate
        shown.append(VisibleTurn(t.agent, t.role, t.participate, t.contribution, not full))
    shown.reverse()
    return render_turns(shown), compacted


def intentions_changed(intents: Sequence[TurnRecord], finals: Sequence[TurnRecord]) -> int:
    """Agents whose final role or participation differs from their (valid) round-1 intention."""
    return sum(
        1
        for i, f in zip(intents, finals, strict=True)
        if not i.parse_error
        and (normalise_role(i.role) != normalise_role(f.role) or i.participate != f.participate)
    )
