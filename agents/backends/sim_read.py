"""How the sim reads a prompt: only the text the prompt templates wrote (docs/design/sim.md rule 1).

Kept apart from the sim's decisions so that what the sim *may know* is visible in one place:
everything here is a parse of message text, nothing else.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from agents.backends.chat import Message

_REQ = re.compile(r"^R(\d+) \[(\w+), phase (\d+)(?:, after ([R\d, ]+))?\]: (.*)$", re.M)
_HEAD = re.compile(r"^# Task \S+ \(level (L\d); domains: ([^)]*)\)", re.M)
_AGENT = re.compile(r"^You are agent (\d+) in an organisation of (\d+)", re.M)
# p2 (agents/prompts.py) moves the agent's id and own view into a last section of the user text.
_OWN = "Agent-specific"
_MISSION = re.compile(r"^Mission of the organisation: (.*)$", re.M)
_PEER = re.compile(r"^\[agent (\d+)\] role: (.*?) \| (participates|abstains)", re.M)
_INTENT = re.compile(
    r"^\[agent (\d+)\] intends: role: (.*?) \| (participates|abstains) \| (.*)$", re.M
)
_TAG = re.compile(r"\[R(\d+)\]")
_RREF = re.compile(r"\bR(\d+)\b")
_ASSIGN = re.compile(r"^Your assignment: role: (.*?) \| phase (\d+)(?:, focus: (.*))?$", re.M)
_FIXED = re.compile(r"^Your role is fixed: (.*)\. Keep it\.$", re.M)
_WORKERS = re.compile(r"You coordinate (\d+) workers")
_MEMORY = re.compile(r"^Step \d+ roles: (.*)$", re.M)
_STAKE = re.compile(r"^- (.*?): wants", re.M)
_TRACE = re.compile(r"^\[trace R(\d+|\?)\] agent (\d+) \| role: .*? \| strength ([\d.]+)", re.M)
_SEED = re.compile(r"^\[seed agent (\d+)\] role: (.*?) \| proposal$", re.M)


@dataclass(frozen=True)
class Req:
    id: int
    kind: str
    phase: int
    after: tuple[int, ...]


@dataclass
class Prompt:
    """What one set of messages tells a sim model."""

    agent: int = -1
    n_agents: int = 0
    mission: str = ""
    level: str = "L1"
    domains: tuple[str, ...] = ()
    reqs: list[Req] = field(default_factory=list)
    stakeholders: list[str] = field(default_factory=list)
    covered: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    claimed: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    own_intent: tuple[int, ...] = ()
    peers: list[int] = field(default_factory=list)
    assigned_role: str = ""
    focus: tuple[int, ...] = ()
    fixed_role: str = ""
    n_workers: int = 0
    past_roles: list[str] = field(default_factory=list)
    is_repair: bool = False
    # stigmergic workspace traces (agent, requirement, strength); clonal seeds (agent, role, reqs)
    traces: list[tuple[int, int | None, float]] = field(default_factory=list)
    seeds: list[tuple[int, str, tuple[int, ...]]] = field(default_factory=list)


def _section(text: str, name: str) -> str:
    start = text.find(f"\n## {name}")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 4)
    return text[start : end if end >= 0 else len(text)]


def read_prompt(messages: tuple[Message, ...]) -> Prompt:
    system = messages[0].content if messages and messages[0].role == "system" else ""
    users = [m.content for m in messages if m.role == "user"]
    body = users[0] if users else ""
    p = Prompt(is_repair=len(users) > 1)
    own = _section(body, _OWN)
    if m := _AGENT.search(system) or _AGENT.search(own):
        p.agent, p.n_agents = int(m.group(1)), int(m.group(2))
    if m := _MISSION.search(system):
        p.mission = m.group(1).strip()
    if m := _HEAD.search(body):
        p.level = m.group(1)
        p.domains = tuple(d.strip() for d in m.group(2).split(",") if d.strip())
    p.reqs = [
        Req(
            int(m.group(1)),
            m.group(2),
            int(m.group(3)),
            tuple(int(x) for x in _RREF.findall(m.group(4) or "")),
        )
        for m in _REQ.finditer(_section(body, "Requirements"))
    ]
    p.stakeholders = _STAKE.findall(_section(body, "Stakeholders"))
    _read_visible(p, _section(body, "What you can see") + own)
    turn = _section(body, "Your turn") + own
    if m := _FIXED.search(turn):
        p.fixed_role = m.group(1)
    if m := _WORKERS.search(turn):
        p.n_workers = int(m.group(1))
    return p


def _read_visible(p: Prompt, seen: str) -> None:
    peers = list(_PEER.finditer(seen))
    for i, m in enumerate(peers):
        agent = int(m.group(1))
        p.peers.append(agent)
        end = peers[i + 1].start() if i + 1 < len(peers) else len(seen)
        for r in set(_TAG.findall(seen[m.end() : end])):
            p.covered[int(r)].append(agent)
    for m in _INTENT.finditer(seen):
        agent, tags = int(m.group(1)), tuple(int(r) for r in _TAG.findall(m.group(4)))
        if m.group(3) != "participates":
            continue
        if agent == p.agent:
            p.own_intent = tags
        for r in tags:
            p.claimed[r].append(agent)
    if a := _ASSIGN.search(seen):
        p.assigned_role = a.group(1)
        p.focus = tuple(int(r) for r in _RREF.findall(a.group(3) or ""))
    _read_workspace(p, seen)
    for mem in _MEMORY.finditer(seen):
        for part in mem.group(1).split("; "):
            who, _, role = part.partition(": ")
            if who == f"agent {p.agent}" and role and role != "(abstained)":
                p.past_roles.append(role)


def _blocks(seen: str, pattern: re.Pattern[str]) -> list[tuple[re.Match[str], str]]:
    """Each header line matching ``pattern`` with the text that follows it up to the next one."""
    heads = list(pattern.finditer(seen))
    return [
        (m, seen[m.end() : heads[i + 1].start() if i + 1 < len(heads) else len(seen)])
        for i, m in enumerate(heads)
    ]


def _read_workspace(p: Prompt, seen: str) -> None:
    """Workspace traces (who covered which requirement, how strongly) and seed proposals."""
    for m, text in _blocks(seen, _TRACE):
        agent = int(m.group(2))
        req = None if m.group(1) == "?" else int(m.group(1))
        p.traces.append((agent, req, float(m.group(3))))
        reqs = {int(t) for t in _TAG.findall(text)} | ({req} if req is not None else set())
        for r in sorted(reqs):
            p.covered[r].append(agent)
    for m, text in _blocks(seen, _SEED):
        agent, tags = int(m.group(1)), tuple(sorted({int(t) for t in _TAG.findall(text)}))
        p.seeds.append((agent, m.group(2), tags))
        for r in tags:
            p.covered[r].append(agent)
