"""Deployment schedules: which model each GPU node serves when, and what the nodes bill.

Pure. ``scheduled`` sizes deployments to the work: per GPU type, the nodes are filled in turn
with the models' work (McNaughton's wrap-around rule for splittable jobs, each piece paying the
model's load time), at the smallest makespan ``T`` for which the work fits (bisection). Every
node serves one model at a time with as many replicas as fit it, is started for its first piece
and released after its last, so the billed GPU-hours are the work plus the loads plus the
GPUs a replica size leaves unused on a node: close to the lower bound. A ``deferred`` job (the
judge's pass over stored deliverables) runs last on its nodes, and a node that serves nothing
else starts just in time to end at ``T``. ``all_at_once`` is today's deployment: every model's
catalogue replicas from start to end, the judge beside them. See docs/design/cost.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sweep.errors import UserError
from sweep.plan import calls_per_episode
from sweep.sizing import width
from sweep.spec import EpisodeSpec

NODE_GPUS = 8
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """A model's share of the sweep as the scheduler sees it."""

    model: str
    gpu: str  # GPU type it runs on
    gpus_per_replica: int
    gpu_s: float  # GPU-seconds of work (saturated replicas)
    load_s: float
    replicas: int = 1  # the catalogue's replicas (all_at_once)
    deferred: bool = False  # runs after the other jobs on its nodes (the judge's own pass)
    pinned: bool = False  # served on nodes of its own for the whole sweep (an inline judge)

    def replicas_per_node(self, node_gpus: int) -> int:
        return max(1, node_gpus // self.gpus_per_replica)

    def node_s(self, node_gpus: int) -> float:
        """Seconds of one node serving this job alone."""
        return self.gpu_s / (self.replicas_per_node(node_gpus) * self.gpus_per_replica)


@dataclass(frozen=True)
class Segment:
    """A node serving ``model`` with ``replicas`` from ``start_s`` (loading until
    ``start_s + load_s``) to ``end_s``."""

    node: int
    gpu: str
    model: str
    replicas: int
    gpus: int  # GPUs its replicas hold
    start_s: float
    load_s: float
    end_s: float


@dataclass(frozen=True)
class Schedule:
    kind: str  # "scheduled" | "all_at_once"
    segments: tuple[Segment, ...]
    node_gpus: Mapping[int, int]  # node -> GPUs it bills
    work_gpu_s: float
    lower_bound_gpu_s: float

    @property
    def makespan_s(self) -> float:
        return max((s.end_s for s in self.segments), default=0.0)

    def node_span(self, node: int) -> tuple[float, float]:
        return node_spans(self.segments)[node]

    @property
    def billed_gpu_s(self) -> float:
        spans = node_spans(self.segments)
        return sum((b - a) * self.node_gpus[n] for n in self.node_gpus for a, b in [spans[n]])

    @property
    def busy_share(self) -> float:
        return self.work_gpu_s / self.billed_gpu_s if self.billed_gpu_s else 0.0

    def peak_models(self) -> int:
        """Most distinct models served at one instant."""
        edges = sorted({s.start_s for s in self.segments})
        return max(
            (len({s.model for s in self.segments if s.start_s <= t < s.end_s}) for t in edges),
            default=0,
        )


def nodes_of(gpus_by_type: Mapping[str, int], node_gpus: int = NODE_GPUS) -> list[str]:
    """The GPU type of every node: ``gpus_by_type`` cut into nodes of ``node_gpus``."""
    return [t for t, n in sorted(gpus_by_type.items()) for _ in range(int(n) // node_gpus)]


def lower_bound_gpu_s(jobs: Sequence[Job], node_gpus: int = NODE_GPUS) -> float:
    """The least billed GPU-seconds: each job's work on whole nodes and one load of a node."""
    return sum(j.node_s(node_gpus) * node_gpus + j.load_s * node_gpus for j in jobs if j.gpu_s > 0)


def scheduled(jobs: Sequence[Job], nodes: Sequence[str], node_gpus: int = NODE_GPUS) -> Schedule:
    """Replicas and phases per node for ``jobs`` (module docstring)."""
    jobs = [j for j in jobs if j.gpu_s > 0]
    segments: list[Segment] = []
    for gpu in sorted({j.gpu for j in jobs}):
        ids = [i for i, t in enumerate(nodes) if t == gpu]
        group = sorted((j for j in jobs if j.gpu == gpu), key=lambda j: (j.deferred, -j.gpu_s))
        if not ids:
            have = ", ".join(sorted(set(nodes))) or "none"
            raise UserError(
                f"model(s) {', '.join(j.model for j in group)} need {gpu} GPUs and the cluster "
                f"has none (node types: {have}); add {gpu} to cluster.gpus_by_type or set "
                "cost.models.<name>.accelerator"
            )
        segments += _place(group, ids, gpu, node_gpus)
    used = {s.node for s in segments}
    return Schedule(
        "scheduled",
        tuple(segments),
        {n: node_gpus for n in sorted(used)},
        sum(j.gpu_s for j in jobs),
        lower_bound_gpu_s(jobs, node_gpus),
    )


Piece = tuple[Job, float]  # a job and the seconds of work it gets on a node


def _pack(jobs: Sequence[Job], n_nodes: int, t: float, node_gpus: int) -> list[list[Piece]] | None:
    """Wrap-around: fill node after node up to ``t``; None when ``n_nodes`` are not enough.
    A piece shorter than its load is not worth the load: the rest moves to the next node."""
    nodes: list[list[Piece]] = [[]]
    used = 0.0
    for j in jobs:
        rest = j.node_s(node_gpus)
        while rest > 1e-6:
            free = t - used - j.load_s
            if free < min(rest, j.load_s):
                if len(nodes) == n_nodes:
                    return None
                nodes.append([])
                used = 0.0
                continue
            piece = min(rest, free)
            nodes[-1].append((j, piece))
            used += j.load_s + piece
            rest -= piece
    return nodes


def _place(jobs: Sequence[Job], ids: Sequence[int], gpu: str, node_gpus: int) -> list[Segment]:
    pinned = [j for j in jobs if j.pinned]
    own = sum(math.ceil(j.replicas * j.gpus_per_replica / node_gpus) for j in pinned)
    if pinned and own >= len(ids):
        raise UserError(
            f"the inline judge takes all {len(ids)} {gpu} node(s), leaving none for the "
            f"agents: give the cluster more {gpu} GPUs (cluster.gpus_by_type), or run the "
            "judge as its own pass after the agents (cost.judge=deferred)"
        )
    free_ids, pinned_ids = list(ids[: len(ids) - own]), list(ids[len(ids) - own :])
    out = _wrap([j for j in jobs if not j.pinned], free_ids, gpu, node_gpus) if free_ids else []
    t = max((s.end_s for s in out), default=0.0)
    for j in pinned:
        take = math.ceil(j.replicas * j.gpus_per_replica / node_gpus)
        mine, pinned_ids = pinned_ids[:take], pinned_ids[take:]
        r = j.replicas_per_node(node_gpus)
        end = max(t, j.load_s + j.node_s(node_gpus) / len(mine))
        out += [
            Segment(i, gpu, j.model, r, r * j.gpus_per_replica, 0.0, j.load_s, end) for i in mine
        ]
    return out


MAKESPAN_SLACK = 1.25  # fewer loads may stretch a GPU type's makespan this much over its least
SAVING = 0.01  # ... for the least billed GPU-time; within this share of it, the shortest wins
ORDERS = 720  # job orders tried per GPU type (all of them up to 6 jobs besides deferred ones)


def _loads_s(packed: Sequence[Sequence[Piece]]) -> float:
    return sum(j.load_s for node in packed for j, _ in node)


def _least(
    jobs: Sequence[Job],
    n: int,
    node_gpus: int,
    lo: float,
    hi: float,
    fits: Callable[[list[list[Piece]]], bool],
) -> tuple[float, list[list[Piece]]] | None:
    """The smallest ``t`` in [lo, hi] (bisection) whose packing ``fits``; None if ``hi``'s not."""
    best = _pack(jobs, n, hi, node_gpus)
    if best is None or not fits(best):
        return None
    for _ in range(40):
        mid = (lo + hi) / 2
        packed = _pack(jobs, n, mid, node_gpus)
        if packed is None or not fits(packed):
            lo = mid
        else:
            hi, best = mid, packed
    return hi, best


def _orders(jobs: Sequence[Job]) -> list[list[Job]]:
    """Orders of the jobs the wrap-around rule fills nodes in: most work first, then every
    other order of the non-deferred jobs (deferred ones always last), up to ``ORDERS``."""
    first = sorted(jobs, key=lambda j: (j.deferred, -j.gpu_s))
    now = [j for j in first if not j.deferred]
    later = [j for j in first if j.deferred]
    out = [first]
    for p in itertools.islice(itertools.permutations(now), ORDERS):
        if list(p) != now:
            out.append([*p, *later])
    return out


def _wrap(jobs: Sequence[Job], ids: Sequence[int], gpu: str, node_gpus: int) -> list[Segment]:
    """Wrap-around packings of ``jobs`` on the nodes ``ids``, in every order ``_orders``
    gives, at the least makespan ``t_min`` any order achieves and at up to ``MAKESPAN_SLACK``
    times it (more room: fewer pieces, so fewer loads, each billing a node idle while it loads);
    of those billing at most ``SAVING`` more than the least, the shortest is laid out."""
    if not jobs:
        return []
    total = sum(j.node_s(node_gpus) + j.load_s for j in jobs)
    lo, hi = total / len(ids), total + max(j.load_s for j in jobs)
    orders = _orders(jobs)
    n = len(ids)
    fastest = [got for o in orders if (got := _least(o, n, node_gpus, lo, hi, bool))]
    t_min = min(t for t, _ in fastest)
    cap = MAKESPAN_SLACK * t_min
    tried = list(fastest)
    for o in orders:
        roomy = _pack(o, n, cap, node_gpus)
        if roomy is None:
            continue
        loads = _loads_s(roomy)
        few = lambda q, loads=loads: _loads_s(q) <= loads + 1e-6  # noqa: E731
        tried += [got for got in [_least(o, n, node_gpus, t_min, cap, few)] if got]
    laid = [_layout(p, t, ids, gpu, node_gpus) for t, p in tried]
    billed = [(_billed(segs, node_gpus), segs) for segs in laid]
    least = min(b for b, _ in billed)
    near = [(b, segs) for b, segs in billed if b <= least * (1 + SAVING)]
    return min(near, key=lambda bs: (max(g.end_s for g in bs[1]), bs[0]))[1]


def _layout(
    packed: Sequence[Sequence[Piece]], t_end: float, ids: Sequence[int], gpu: str, node_gpus: int
) -> list[Segment]:
    """Each node's pieces one after another from 0; deferred pieces (the judge's pass over the
    agents' deliverables) end at ``t_end``, when the agents' last deliverables are in, so a node
    that serves both is held from its agents' start to then."""
    out: list[Segment] = []
    for node, pieces in zip(ids, packed, strict=False):
        now = [(j, w) for j, w in pieces if not j.deferred]
        later = [(j, w) for j, w in pieces if j.deferred]
        t = 0.0
        for group in (now, later):
            if group is later:
                t = max(t, t_end - sum(j.load_s + w for j, w in later))
            for j, w in group:
                r = j.replicas_per_node(node_gpus)
                out.append(
                    Segment(
                        node, gpu, j.model, r, r * j.gpus_per_replica, t, j.load_s, t + j.load_s + w
                    )
                )
                t += j.load_s + w
    return out


def node_spans(segments: Sequence[Segment]) -> dict[int, tuple[float, float]]:
    """node -> (first start, last end) of its segments: the time the node is billed."""
    spans: dict[int, tuple[float, float]] = {}
    for g in segments:
        a, b = spans.get(g.node, (g.start_s, g.end_s))
        spans[g.node] = (min(a, g.start_s), max(b, g.end_s))
    return spans


def _billed(segments: Sequence[Segment], node_gpus: int) -> float:
    return sum((b - a) * node_gpus for a, b in node_spans(segments).values())


def all_at_once(jobs: Sequence[Job], node_gpus: int = NODE_GPUS) -> Schedule:
    """Today's deployment: every model's catalogue replicas for the whole sweep, nodes filled
    first-fit per GPU type; the sweep lasts as long as its slowest model needs."""
    jobs = [j for j in jobs if j.gpu_s > 0]
    reps = [j for j in sorted(jobs, key=lambda j: -j.gpus_per_replica) for _ in range(j.replicas)]
    where, types = first_fit(reps, node_gpus)
    placed = [(n, j, 1) for n, j in zip(where, reps, strict=True)]  # node, job, replicas there
    span = max(j.load_s + j.gpu_s / (j.replicas * j.gpus_per_replica) for j in jobs)
    segments = [
        Segment(n, j.gpu, j.model, r, r * j.gpus_per_replica, 0.0, j.load_s, span)
        for n, j, r in placed
    ]
    return Schedule(
        "all_at_once",
        tuple(segments),
        {n: max(node_gpus, 1) for n in range(len(types))},
        sum(j.gpu_s for j in jobs),
        lower_bound_gpu_s(jobs, node_gpus),
    )


def first_fit(replicas: Iterable[Job], node_gpus: int) -> tuple[list[int], list[str]]:
    """Replicas (a job once per replica, in order) each on the first node of its GPU type with
    room for it, else on a new node of ``node_gpus`` GPUs (one replica's, if it takes more):
    each replica's node, and each node's GPU type, nodes in the order they were opened."""
    free: list[tuple[str, int]] = []  # node -> (type, free GPUs)
    where: list[int] = []
    for j in replicas:
        need = j.gpus_per_replica
        node = next((i for i, (t, f) in enumerate(free) if t == j.gpu and f >= need), None)
        if node is None:
            free.append((j.gpu, max(node_gpus, need)))
            node = len(free) - 1
        free[node] = (free[node][0], free[node][1] - need)
        where.append(node)
    return where, [t for t, _ in free]


def required_gpus(jobs: Sequence[Job]) -> dict[str, int]:
    """GPUs per type the catalogue's replicas take (the cluster ``all_at_once`` needs)."""
    out: dict[str, int] = {}
    for j in jobs:
        out[j.gpu] = out.get(j.gpu, 0) + j.replicas * j.gpus_per_replica
    return {t: math.ceil(n / NODE_GPUS) * NODE_GPUS for t, n in out.items()}


def longest_first(work: Sequence[tuple[EpisodeSpec, T]]) -> list[tuple[EpisodeSpec, T]]:
    """Dispatch order: episodes with the most call waves (calls / calls at once) first, then the
    most calls, plan order among equals. A phase then ends on short episodes instead of a tail
    of long sequential ones holding a node that has nothing else left (bench/cluster_sim.py)."""

    def key(item: tuple[int, tuple[EpisodeSpec, T]]) -> tuple[float, int, int]:
        i, (spec, _) = item
        calls = calls_per_episode(spec)
        return (-calls / max(width(spec), 1), -calls, i)

    return [w for _, w in sorted(enumerate(work), key=key)]
