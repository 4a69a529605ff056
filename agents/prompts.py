"""Prompt templates: the only place that turns tasks, peers and memory into text.

Every backend, the ``sim`` one included, reads exactly this text (docs/design/sim.md rule 1).
The layout is orgsweep's operationalisation (the paper's prompts are unpublished); change it
only together with ``PROMPT_VERSION``, which enters every episode id.

Two layouts carry the same information (docs/design/prompt-layout.md). ``p1`` (the first) opens
every agent prompt with the agent's id; ``p2`` (the default) puts what the calls of one round
share first (rules, mission, task, round instructions, the shared view) and everything specific
to one agent (id, N, own view, fixed role) in a final ``## Agent-specific`` section, so that a
prefix cache (vLLM's APC hashes 16-token blocks from the first token) can share the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.backends.chat import Message
from agents.contract import Plan
from agents.tasks import Task

PROMPT_VERSION = "p2"
PROMPT_VERSIONS = ("p1", "p2")
AGENT_SECTION = "## Agent-specific"


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


def render_plan(plan: Plan) -> str:
    """The part of a coordinator's plan every worker sees."""
    return f"Coordinator's plan: {plan.plan}"


def render_own_assignment(plan: Plan, agent: int) -> str:
    """The part of a coordinator's plan only ``agent`` sees."""
    mine = next(a for a in plan.assignments if a.agent == agent)
    focus = f", focus: {mine.focus}" if mine.focus else ""
    return (
        f"Your assignment: role: {mine.role} | phase {mine.phase}{focus}\n"
        "Keep the assigned role. You must participate."
    )


def render_assignment(plan: Plan, agent: int) -> str:
    return f"{render_plan(plan)}\n{render_own_assignment(plan, agent)}"


_OUTPUT_RULES = (
    "Tag each requirement you address as [Rn] at the start of its sentence. End each claim with "
    "(checked) when it follows from the task text or a colleague's work, or (assumption) when it "
    "does not. Only list in builds_on agents whose work you can see above."
)

# p2 shows the views after the instructions: the protocols' "above" (the view) reads "below".
_ABOVE = re.compile(r"\b[Aa]bove\b")


def _below(m: re.Match[str]) -> str:
    return "Below" if m.group(0)[0] == "A" else "below"


# p2 shows an agent's own view in its last section, hence "this prompt shows you", not "above".
_OUTPUT_RULES_P2 = _OUTPUT_RULES.replace("you can see above", "this prompt shows you")

_SYSTEM_P2 = (
    "You are one of the AI agents of an organisation solving one task together; the last "
    "section of this prompt says which one.\nMission of the organisation: {mission}\n"
    "Answer with exactly one JSON object and nothing else."
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
    own: str = "",
    fixed_role: str | None = None,
    intention: bool = False,
    version: str = PROMPT_VERSION,
) -> tuple[Message, ...]:
    """The messages of one agent turn. ``visible`` is what the protocol shows every agent of
    the round, ``own`` what it shows this agent only, both already rendered."""
    if version == "p1":
        seen = "\n".join(x for x in (visible, own) if x)
        parts = [render_task(task), "", "## What you can see", seen or "Nothing: you act alone."]
        parts += ["", "## Your turn", instructions]
        if fixed_role:
            parts.append(f"Your role is fixed: {fixed_role}. Keep it.")
        if not intention:
            parts.append(_OUTPUT_RULES)
        parts.append(_INTENTION_FORMAT if intention else _TURN_FORMAT)
        return (system_message(agent, n_agents, mission), Message("user", "\n".join(parts)))
    # The round's instructions come before its view: in sequential rounds the view only grows,
    # so the next round reuses this prompt up to the end of the view.
    parts = [render_task(task), "", "## Your turn", _ABOVE.sub(_below, instructions)]
    if not intention:
        parts.append(_OUTPUT_RULES_P2)
    parts.append(_INTENTION_FORMAT if intention else _TURN_FORMAT)
    if visible or not own:
        parts += ["", "## What you can see", visible or "Nothing: you act alone."]
    parts += ["", AGENT_SECTION, f"You are agent {agent} in an organisation of {n_agents}."]
    if own:
        parts.append(own)
    if fixed_role:
        parts.append(f"Your role is fixed: {fixed_role}. Keep it.")
    return (
        Message("system", _SYSTEM_P2.format(mission=mission)),
        Message("user", "\n".join(parts)),
    )


def coordinator_messages(
    *, n_workers: int, mission: str, task: Task, version: str = PROMPT_VERSION
) -> tuple[Message, ...]:
    decide = (
        "Decide who works on what: give every worker a role, a phase and a focus (the "
        "requirements [Rn] it covers), and set include=false for workers the task does not need."
    )
    fmt = (
        'Reply with one JSON object: {"plan": str, "assignments": [{"agent": int, '
        '"role": str, "phase": int, "include": bool, "focus": str}]}'
    )
    workers = f"You coordinate {n_workers} workers, numbered 0..{n_workers - 1}."
    if version == "p1":
        body = [render_task(task), "", "## Your turn", f"{workers} {decide}", fmt]
    else:  # the worker count differs across episodes of one task: last
        body = [render_task(task), "", "## Your turn", decide, fmt, "", AGENT_SECTION, workers]
    return (
        Message(
            "system",
            f"You are the coordinator of an organisation of AI agents.\nMission of the "
            f"organisation: {mission}\nAnswer with exactly one JSON object and nothing else.",
        ),
        Message("user", "\n".join(body)),
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
