"""Prompt templates: the only place that turns tasks, peers and memory into text.

Every backend, the ``sim`` one included, reads exactly this text (docs/design/sim.md rule 1).
The layout is orgsweep's operationalisation (the paper's prompts are unpublished); change it
only together with ``PROMPT_VERSION``, which enters every episode id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.backends.chat import Message
from agents.contract import Plan
from agents.tasks import Task

PROMPT_VERSION = "p1"


@dataclass(frozen=True)
class VisibleTurn:
    """A peer's turn as another agent may see it."""

    agent: int
    role: str
    participate: bool
    contribution: str = ""
    compact: bool = False


def render_task(task: Task) -> str:
    lines = [
        f"# Task {task.task_id} (level {task.level}; domains: {', '.join(task.domains)})",
        task.title,
        task.brief,
        "",
        "## Requirements",
    ]
    for r in task.requirements:
        after = f", after {', '.join(f'R{d}' for d in r.depends_on)}" if r.depends_on else ""
        lines.append(f"R{r.id} [{r.kind}, phase {r.phase}{after}]: {r.text}")
    if task.stakeholders:
        lines += ["", "## Stakeholders (their interests conflict)"]
        lines += [
            f"- {s.name}: wants {s.interest}; constraint: {s.constraint}" for s in task.stakeholders
        ]
    if task.missing_info:
        lines += ["", "## Missing information (not available to anyone)"]
        lines += [f"- {m}" for m in task.missing_info]
    return "\n".join(lines)


def render_turns(turns: Iterable[VisibleTurn]) -> str:
    out = []
    for t in turns:
        status = "participates" if t.participate else "abstains"
        head = f"[agent {t.agent}] role: {t.role or '-'} | {status}"
        if t.compact and t.participate:
            out.append(f"{head} | (contribution not shown: context budget)")
        elif t.participate:
            out.append(f"{head}\n{t.contribution}")
        else:
            out.append(head)
    return "\n".join(out)


def render_intentions(intentions: Iterable[tuple[int, str, bool, str]]) -> str:
    return "\n".join(
        f"[agent {a}] intends: role: {role or '-'} | "
        f"{'participates' if part else 'abstains'} | {rationale}"
        for a, role, part, rationale in intentions
    )


def render_memory(memory: Sequence[Sequence[tuple[int, str]]]) -> str:
    """Organisational memory: for each earlier step, the role every agent took."""
    if not memory:
        return ""
    return "\n".join(
        f"Step {s + 1} roles: "
        + "; ".join(f"agent {a}: {role or '(abstained)'}" for a, role in step)
        for s, step in enumerate(memory)
    )


def render_assignment(plan: Plan, agent: int) -> str:
    mine = next(a for a in plan.assignments if a.agent == agent)
    focus = f", focus: {mine.focus}" if mine.focus else ""
    return (
        f"Coordinator's plan: {plan.plan}\n"
        f"Your assignment: role: {mine.role} | phase {mine.phase}{focus}\n"
        "Keep the assigned role. You must participate."
    )


_OUTPUT_RULES = (
    "Tag each requirement you address as [Rn] at the start of its sentence. End each claim with "
    "(checked) when it follows from the task text or a colleague's work, or (assumption) when it "
    "does not. Only list in builds_on agents whose work you can see above."
)

_TURN_FORMAT = (
    'Reply with one JSON object: {"role": str (max 60 chars), "participate": bool, '
    '"contribution": str ("" if you abstain), "builds_on": [int], "rationale": str}'
)

_INTENTION_FORMAT = (
    'Reply with one JSON object: {"role": str (max 60 chars), "participate": bool, '
    '"rationale": str (name the requirements you intend to cover as [Rn])}'
)


def system_message(agent: int, n_agents: int, mission: str) -> Message:
    return Message(
        "system",
        f"You are agent {agent} in an organisation of {n_agents} AI agents solving one task "
        f"together.\nMission of the organisation: {mission}\n"
        "Answer with exactly one JSON object and nothing else.",
    )


def agent_messages(
    *,
    agent: int,
    n_agents: int,
    mission: str,
    task: Task,
    visible: str,
    instructions: str,
    fixed_role: str | None = None,
    intention: bool = False,
) -> tuple[Message, ...]:
    """The messages of one agent turn; ``visible`` is the protocol's view, already rendered."""
    parts = [render_task(task), "", "## What you can see", visible or "Nothing: you act alone."]
    parts += ["", "## Your turn", instructions]
    if fixed_role:
        parts.append(f"Your role is fixed: {fixed_role}. Keep it.")
    if not intention:
        parts.append(_OUTPUT_RULES)
    parts.append(_INTENTION_FORMAT if intention else _TURN_FORMAT)
    return (system_message(agent, n_agents, mission), Message("user", "\n".join(parts)))


def coordinator_messages(*, n_workers: int, mission: str, task: Task) -> tuple[Message, ...]:
    user = "\n".join(
        [
            render_task(task),
            "",
            "## Your turn",
            f"You coordinate {n_workers} workers, numbered 0..{n_workers - 1}. Decide who works "
            "on what: give every worker a role, a phase and a focus (the requirements [Rn] it "
            "covers), and set include=false for workers the task does not need.",
            'Reply with one JSON object: {"plan": str, "assignments": [{"agent": int, '
            '"role": str, "phase": int, "include": bool, "focus": str}]}',
        ]
    )
    return (
        Message(
            "system",
            f"You are the coordinator of an organisation of AI agents.\nMission of the "
            f"organisation: {mission}\nAnswer with exactly one JSON object and nothing else.",
        ),
        Message("user", user),
    )


def repair_message(error: str) -> Message:
    return Message(
        "user",
        f"Your reply could not be used: {error}. Reply again with one valid JSON object only.",
    )


# ---- helpers of the protocols the paper only names (orgsweep's layout) ---------------------


@dataclass(frozen=True)
class VisibleTrace:
    """A stigmergic workspace trace as agents see it (``requirement`` None: not filed)."""

    requirement: int | None
    agent: int
    role: str
    strength: float
    text: str
    compact: bool = False


def render_traces(traces: Iterable[VisibleTrace]) -> str:
    """The workspace: one header line per trace, then its text unless compacted."""
    out = []
    for t in traces:
        req = f"R{t.requirement}" if t.requirement is not None else "R?"
        head = f"[trace {req}] agent {t.agent} | role: {t.role or '-'} | strength {t.strength:.2f}"
        if t.compact:
            out.append(f"{head} | (text not shown: context budget)")
        else:
            out.append(f"{head}\n{t.text}")
    return "\n".join(out)


def render_seeds(seeds: Iterable[VisibleTurn]) -> str:
    """Clonal seed proposals: role and contribution of every seed that proposed."""
    return "\n".join(
        f"[seed agent {s.agent}] role: {s.role or '-'} | proposal\n{s.contribution}" for s in seeds
    )
