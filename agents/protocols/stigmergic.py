"""``stigmergic``: agents coordinate only through traces left in a shared workspace.

The paper only names this protocol (indirect coordination via a shared workspace); what follows
is orgsweep's operationalisation (docs/design/protocols.md section 3.6). A trace is
``{requirement, text, author, strength}``. For ``rounds`` rounds all agents act in parallel,
seeing the workspace as it stood after the previous round (never their peers' current choices).
A turn

- adds a trace: it participates; its contribution is the trace text, filed under the first
  requirement number ``Rn`` of the task named in its rationale, else its role, else its
  contribution (unfiled traces stay in the workspace but never enter the deliverable);
- endorses traces: every author in ``builds_on`` gets +1 strength on their latest trace (a turn
  that adds a trace may also endorse; to endorse only, an agent declines to participate and
  lists authors, and is recorded as a voluntary abstainer with ``builds_on``);
- or abstains.

New traces start at ``deposit``; after each round every strength is multiplied by
``1 - evaporation``. Agents cannot endorse themselves (such refs count as invalid). For large N,
the strongest traces are shown in full up to ``context_budget_tokens`` and the rest as one line
(recorded as ``context_compacted``). The deliverable is the strongest trace per requirement
(ties: earliest), in requirement order. An agent's final turn (``agents`` table) is its last
participating turn (else its last turn), with ``builds_on`` merged over all its rounds.
Calls per task: rounds x N; rounds: ``rounds``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.backends.chat import estimate_tokens
from agents.prompts import VisibleTrace, render_traces
from agents.protocols.checks import require_whole
from agents.protocols.steps import StepOutcome, in_parallel
from agents.runtime import StepRuntime, TurnRecord

INSTRUCTIONS = (
    "Round {r} of {rounds}: all agents act at the same time and coordinate only through the "
    "shared workspace above (traces left in earlier rounds; you cannot see what others do this "
    "round). Either add a trace: participate, do the work for one requirement and name it as Rn "
    "in your rationale; or endorse traces you find right: list their authors in builds_on (each "
    "endorsement adds 1 strength; to endorse without adding a trace, set participate to false); "
    "or abstain. After each round every strength shrinks by {evap:.0%}. The deliverable keeps the "
    "strongest trace per requirement."
)
_REQ = re.compile(r"\bR(\d+)\b")


@dataclass(frozen=True)
class Params:
    rounds: int = 2
    evaporation: float = 0.5
    deposit: float = 1.0
    context_budget_tokens: int = 6000

    def __post_init__(self) -> None:
        require_whole("stigmergic", "rounds", self.rounds, 1)
        if not 0.0 <= self.evaporation < 1.0:
            raise ValueError(f"stigmergic: evaporation={self.evaporation!r} must be in [0, 1)")
        if self.deposit <= 0:
            raise ValueError(f"stigmergic: deposit={self.deposit!r} must be > 0")


@dataclass
class Trace:
    requirement: int | None
    turn: TurnRecord
    order: tuple[int, int]  # (round, position in protocol order): "earliest" breaks ties
    strength: float


def requirement_of(turn: TurnRecord, valid: set[int]) -> int | None:
    """The first requirement of the task named in the rationale, else role, else contribution."""
    for text in (turn.rationale, turn.role, turn.contribution):
        for m in _REQ.finditer(text):
            if int(m.group(1)) in valid:
                return int(m.group(1))
    return None


def render_workspace(traces: Sequence[Trace], budget_tokens: int | None) -> tuple[str, bool]:
    """Strongest traces in full up to the budget, the rest one line each (grouped by
    requirement, strongest first). Returns the text and whether anything was compacted."""
    full: set[int] = set()
    used = 0
    for t in sorted(traces, key=_rank):
        cost = estimate_tokens(t.turn.contribution)
        if budget_tokens is None or used + cost <= budget_tokens:
            full.add(id(t))
            used += cost
    shown = sorted(traces, key=lambda t: (t.requirement is None, t.requirement or 0, *_rank(t)))
    text = render_traces(
        VisibleTrace(
            t.requirement,
            t.turn.agent,
            t.turn.role,
            t.strength,
            t.turn.contribution,
            id(t) not in full,
        )
        for t in shown
    )
    return text, len(full) < len(traces)


def _rank(t: Trace) -> tuple[float, int, int]:
    return (-t.strength, *t.order)


def strongest(traces: Sequence[Trace]) -> list[TurnRecord]:
    """The deliverable: per filed requirement the strongest trace (ties: earliest)."""
    best: dict[int, Trace] = {}
    for t in sorted(traces, key=_rank):
        if t.requirement is not None:
            best.setdefault(t.requirement, t)
    return [best[r].turn for r in sorted(best)]


async def run(rt: StepRuntime, params: Params) -> StepOutcome:
    valid = {r.id for r in rt.task.requirements}
    position = {a: i for i, a in enumerate(rt.agents)}
    workspace: list[Trace] = []
    history: dict[int, list[TurnRecord]] = {a: [] for a in rt.agents}
    compacted = False
    for rnd in range(1, params.rounds + 1):
        text, c = render_workspace(workspace, params.context_budget_tokens)
        compacted |= c
        visible = f"Workspace after round {rnd - 1}:\n{text}" if workspace else ""
        authors = frozenset(t.turn.agent for t in workspace)
        note = INSTRUCTIONS.format(r=rnd, rounds=params.rounds, evap=params.evaporation)
        turns = await in_parallel(
            rt.turn(a, rnd, visible=visible, visible_agents=authors - {a}, instructions=note)
            for a in rt.agents
        )
        latest = {t.turn.agent: t for t in workspace}  # workspace is in deposit order
        for t in turns:
            history[t.agent].append(t)
            for b in t.builds_on:
                latest[b].strength += 1.0
        workspace += [
            Trace(requirement_of(t, valid), t, (rnd, position[t.agent]), params.deposit)
            for t in turns
            if t.participate
        ]
        for tr in workspace:
            tr.strength *= 1.0 - params.evaporation
    finals = [_final(history[a]) for a in rt.agents]
    return StepOutcome(
        finals, rounds=params.rounds, deliverable=strongest(workspace), context_compacted=compacted
    )


def _final(turns: list[TurnRecord]) -> TurnRecord:
    """Last participating turn (else the last turn), with builds_on merged over all rounds."""
    rep = next((t for t in reversed(turns) if t.participate), turns[-1])
    merged = tuple(dict.fromkeys(b for t in turns for b in t.builds_on))
    return dataclasses.replace(
        rep, builds_on=merged, invalid_refs=sum(t.invalid_refs for t in turns)
    )
