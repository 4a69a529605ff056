"""The role graph of one round as geometry for an inline SVG: agents on a circle (coordinator
in the centre), an edge from each agent to every agent it ``builds_on``, node colour by role
(the round's most common roles get the palette's colours, the rest grey), hollow nodes for
agents that did not participate. The template escapes every label (roles are model-written).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from analysis import palette
from analysis.view.data import Turn

SIZE = 360
FAINT = "#EEEEEE"
RADIUS = 150


@dataclass(frozen=True)
class Node:
    agent: int
    x: float
    y: float
    r: float
    fill: str
    label: str  # tooltip: "agent 3: Analyst (participates)"
    anchor: str


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Graph:
    size: int
    nodes: list[Node]
    edges: list[Edge]
    legend: list[tuple[str, str]]  # (colour, role)


def round_graph(turns: list[Turn], step_agents: Iterable[int]) -> Graph:
    """The graph of one round; ``step_agents`` (every agent of the step) keeps positions the
    same in every round of a step, agents not acting in this round drawn faint, so the
    targets of ``builds_on`` in earlier rounds (a sequential chain) are on the picture."""
    workers = sorted({t.agent for t in turns if t.agent >= 0} | {a for a in step_agents if a >= 0})
    n = max(len(workers), 1)
    r = max(2.5, min(9.0, 300 / n))
    pos: dict[int, tuple[float, float]] = {-1: (SIZE / 2, SIZE / 2)}
    for i, a in enumerate(workers):
        angle = 2 * math.pi * i / n - math.pi / 2
        pos[a] = (SIZE / 2 + RADIUS * math.cos(angle), SIZE / 2 + RADIUS * math.sin(angle))
    roles = Counter(t.role.casefold() for t in turns if t.participate and t.role)
    top = [role for role, _ in roles.most_common(len(palette.ROLE_COLOURS))]
    colour = dict(zip(top, palette.ROLE_COLOURS, strict=False))
    acting = {t.agent for t in turns}
    nodes = [
        Node(a, *pos[a], r * 0.7, FAINT, f"agent {a}: not in this round", "")
        for a in workers
        if a not in acting
    ]
    for t in turns:
        if t.agent not in pos:
            continue
        x, y = pos[t.agent]
        fill = colour.get(t.role.casefold(), palette.OTHER) if t.participate else "#FFFFFF"
        who = "coordinator" if t.agent < 0 else f"agent {t.agent}"
        state = "participates" if t.participate else f"abstains: {t.reason}"
        nodes.append(Node(t.agent, x, y, r, fill, f"{who}: {t.role or '-'} ({state})", t.anchor))
    edges = [
        _edge(pos[t.agent], pos[a], r + 1.5)
        for t in turns
        for a, _ in t.builds_on
        if t.agent in pos and a in pos and a != t.agent
    ]
    legend = [(colour[role], role) for role in top]
    return Graph(SIZE, nodes, edges, legend)


def _edge(a: tuple[float, float], b: tuple[float, float], gap: float) -> Edge:
    """From ``a`` to ``b``, stopping ``gap`` short of ``b`` so the arrowhead shows."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    d = math.hypot(dx, dy) or 1.0
    return Edge(a[0], a[1], b[0] - dx / d * gap, b[1] - dy / d * gap)
