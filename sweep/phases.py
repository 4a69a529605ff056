"""Executor phases: which models are served together, in which order, with how many replicas.

Pure. The executor (sweep/execute.py) runs phases one after another: deploy the phase's models,
run its episodes, drain, release, then the next. ``from_schedule`` turns the planner's
deployment schedule (sweep/schedule.py) into such phases: models in the order the schedule
starts them, each with the most replicas the schedule serves it with at once, packed greedily
into the phase where it adds the least billed GPU-time (a phase's span times the GPUs it holds,
the inline judge's included), or into a phase of its own when that bills clearly less (``JOIN``),
while a phase's replicas fit the cluster's GPUs of each type and its models stay within
``cluster.max_concurrent_models``; then each model of a phase keeps only the replicas
that finish its work with the phase's slowest model (the phase holds them until it drains). A
model that other models' episodes call (a swap_model shock's replacement) is served in the same
phase as them, and with ``swap_share`` those episodes are a unit of their own (work key
``work_key``: ``model+replacement``), so the replacement's replicas are held only while they
run, not through all of the model's other episodes; a ``pinned`` model (the inline judge) is
served in every phase. ``by_cap`` is
the rule without a schedule (the catalogue's replicas, models in order of appearance).
``render`` lays phases out on nodes as a ``Schedule``, so the planner can price what the
executor runs. See docs/design/cost.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sweep.errors import UserError
from sweep.schedule import (
    MAKESPAN_SLACK,
    SAVING,
    Job,
    Schedule,
    Segment,
    first_fit,
    lower_bound_gpu_s,
)
from sweep.spec import EpisodeSpec


@dataclass(frozen=True)
class Phase:
    """One deployment of the executor: ``agents`` are the models whose episodes it runs;
    ``replicas`` (model -> count) overrides the catalogue's replicas of the models it serves
    (empty: the catalogue's)."""

    agents: tuple[str, ...]  # work keys (``work_key``): a model, or model+replacement
    replicas: tuple[tuple[str, int], ...] = ()  # 0: not served in this phase (a deferred judge)
    work: tuple[tuple[str, float], ...] = ()  # model -> share of its work done here (planning)

    def replicas_of(self) -> dict[str, int]:
        """The models it serves and their replicas (those held for a later phase left out)."""
        return {m: r for m, r in self.replicas if r}

    def describe(self) -> str:
        served = ", ".join(f"{m} x{r}" for m, r in self.replicas if r) or "catalogue replicas"
        held = [m for m, r in self.replicas if not r]
        later = f" ({', '.join(held)} later, in its own phase)" if held else ""
        if not self.agents:
            return f"the judge's pass over the stored deliverables on {served}"
        return f"episodes of {', '.join(map(_key_words, self.agents))} on {served}{later}"


SWAP = "+"  # work key of an agent model's episodes that also call a replacement model


def work_key(spec: EpisodeSpec) -> str:
    """Which phase unit an episode belongs to: its model, or ``model+replacement`` for an
    episode whose swap_model shock calls another model."""
    m = spec.shock.model if spec.shock is not None else None
    if m is not None and m.name != spec.model.name:
        return f"{spec.model.name}{SWAP}{m.name}"
    return spec.model.name


def _key_words(key: str) -> str:
    model, _, other = key.partition(SWAP)
    return f"{model} (those swapping in {other})" if other else model


@dataclass(frozen=True)
class _Served:
    """A model as the schedule serves it."""

    gpu: str
    gpus_per_replica: int
    start_s: float
    peak: int  # most replicas at one instant
    busy_gpu_s: float
    load_s: float

    def span_s(self, replicas: int) -> float:
        """Seconds to load and serve all its work on ``replicas``."""
        return self.load_s + self.busy_gpu_s / (replicas * self.gpus_per_replica)


JOIN = 1.25  # a model joins a phase when that adds at most this times what a phase of its own bills


def _served(s: Schedule) -> dict[str, _Served]:
    by_model: dict[str, list[Segment]] = defaultdict(list)
    for seg in s.segments:
        by_model[seg.model].append(seg)
    out: dict[str, _Served] = {}
    for model, segs in by_model.items():
        peak = max(sum(o.replicas for o in segs if o.start_s <= g.start_s < o.end_s) for g in segs)
        out[model] = _Served(
            segs[0].gpu,
            max(1, segs[0].gpus // max(segs[0].replicas, 1)),
            min(g.start_s for g in segs),
            peak,
            sum((g.end_s - g.start_s - g.load_s) * g.gpus for g in segs),
            segs[0].load_s,
        )
    return out


def companions(specs: Iterable[EpisodeSpec]) -> dict[str, set[str]]:
    """Agent model -> the other models its episodes call (swap_model shocks' replacements)."""
    out: dict[str, set[str]] = defaultdict(set)
    for s in specs:
        m = s.shock.model if s.shock is not None else None
        if m is not None and m.name != s.model.name:
            out[s.model.name].add(m.name)
    return dict(out)


def _groups(agents: Sequence[str], companions: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Agent models joined with the models their episodes also call (transitively)."""
    group_of: dict[str, set[str]] = {}
    for a in agents:
        members = {a, *companions.get(a, ())}
        merged = set().union(members, *(group_of.get(m, set()) for m in members))
        for m in merged:
            group_of[m] = merged
    seen: list[set[str]] = []
    for a in agents:
        if not any(group_of[a] is g for g in seen):
            seen.append(group_of[a])
    return [sorted(g) for g in seen]


def _check_cap(group: Sequence[str], cap: int | None) -> None:
    if cap is not None and len(group) > cap:
        raise UserError(
            f"cluster.max_concurrent_models={cap}, but the episodes of {group[0]} also call "
            f"{', '.join(group[1:])} (a swap_model shock), so {len(group)} models must be "
            f"served together; raise cluster.max_concurrent_models to {len(group)} or more"
        )


def by_cap(
    agents: Sequence[str],
    cap: int | None,
    companions: Mapping[str, Iterable[str]] | None = None,
) -> tuple[Phase, ...]:
    """Models in order of appearance, at most ``cap`` (null: all) per phase, catalogue replicas."""
    phases: list[list[str]] = []
    for group in _groups(agents, companions or {}):
        _check_cap(group, cap)
        if phases and (cap is None or len(phases[-1]) + len(group) <= cap):
            phases[-1] += group
        else:
            phases.append(list(group))
    wanted = set(agents)
    return tuple(Phase(tuple(m for m in p if m in wanted)) for p in phases)


def from_schedule(
    s: Schedule,
    agents: Sequence[str],
    *,
    cap: int | None = None,
    companions: Mapping[str, Iterable[str]] | None = None,
    pinned: Iterable[str] = (),
    last: Iterable[str] = (),
    swap_share: Mapping[str, float] | None = None,
) -> tuple[Phase, ...]:
    """The executor's phases for ``s`` (module docstring). ``agents``: the models whose episodes
    run; models the schedule does not serve (hosted, no work) go in the first phase with the
    catalogue's replicas, and so do those that are also the judge. ``last``: models served in a
    final phase of their own (the judge's deferred pass), with 0 replicas in the others.
    ``swap_share``: agent model -> share of its work in episodes that call a companion; those
    episodes then form a unit of their own (work key ``model+companion``)."""
    served = _served(s)
    capacity: dict[str, int] = defaultdict(int)
    gpu_of = {g.node: g.gpu for g in s.segments}
    for node, gpus in s.node_gpus.items():
        capacity[gpu_of[node]] += gpus
    pinned = [m for m in dict.fromkeys(pinned) if m in served]
    for m in pinned:
        capacity[served[m].gpu] -= served[m].peak * served[m].gpus_per_replica
    final = [m for m in dict.fromkeys(last) if m in served and m not in pinned]
    start = lambda m: (served[m].start_s, -served[m].busy_gpu_s, m)  # noqa: E731
    in_schedule = [m for m in agents if m in served and m not in pinned and m not in final]
    groups = _groups(sorted(in_schedule, key=start), companions or {})
    groups = [[m for m in g if m not in pinned] for g in groups]
    held = sum(served[m].peak * served[m].gpus_per_replica for m in pinned)
    node = max(s.node_gpus.values(), default=1)
    wanted = set(agents)

    def bill(counts: Mapping[str, int], work: Mapping[str, float]) -> float:
        local = _local(served, work)
        return _billed_gpu_s(_sized(counts, local), local, held, node)

    phases: list[_Unit] = []
    for unit in _units(groups, served, wanted, companions or {}, swap_share or {}):
        _check_cap(list(unit.work), cap)
        local = _local(served, unit.work)
        peaks = {m: served[m].peak for m in unit.work}
        unit.fit = _shrunk(_sized(peaks, local), local, capacity)
        limit = MAKESPAN_SLACK * _span_s(unit.fit, local)
        unit.counts = _trimmed(unit.fit, local, held, node, limit)
        joins = []
        for i, p in enumerate(phases):
            merged = p.merged(unit)
            if _fits(_sized(merged.counts, _local(served, merged.work)), served, capacity, cap):
                joins.append((bill(merged.counts, merged.work) - bill(p.counts, p.work), i))
        if joins and min(joins)[0] <= JOIN * bill(unit.counts, unit.work):
            phases[min(joins)[1]] = phases[min(joins)[1]].merged(unit)
        else:
            phases.append(unit)
    if final:
        counts = _shrunk({m: served[m].peak for m in final}, served, capacity)
        phases.append(_Unit([], {m: served[m].busy_gpu_s for m in final}, counts, counts))
    # not served by the schedule, or also the judge (self-judging): run in the first phase
    rest = [m for m in agents if m not in in_schedule]
    if not phases:
        phases.append(_Unit([], {}, {}))
    trimmed = _trim_all(
        [
            (_sized(p.counts, local), local, _span_s(_sized(p.fit, local), local))
            for p in phases
            for local in [_local(served, p.work)]
        ],
        held,
        node,
    )
    out = []
    for i, (p, sized) in enumerate(zip(phases, trimmed, strict=True)):
        names = p.keys + (rest if i == 0 else [])
        counts = {**sized, **{m: served[m].peak for m in pinned}}
        if final and i < len(phases) - 1:
            counts.update(dict.fromkeys(final, 0))  # served in the last phase only
        share = {m: w / served[m].busy_gpu_s for m, w in p.work.items() if served[m].busy_gpu_s > 0}
        work = tuple(sorted(share.items())) if swap_share else ()
        out.append(Phase(tuple(names), tuple(sorted(counts.items())), work))
    return tuple(out)


@dataclass
class _Unit:
    """Episodes that run together (work keys), the GPU-seconds each model serves for them, and
    replicas: ``fit``, the schedule's (sized and fitted to the cluster), and ``counts``, those
    trimmed."""

    keys: list[str]
    work: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    fit: dict[str, int] = field(default_factory=dict)

    def merged(self, o: _Unit) -> _Unit:
        work = {m: self.work.get(m, 0.0) + o.work.get(m, 0.0) for m in {**self.work, **o.work}}
        most = lambda a, b: {m: max(a.get(m, 0), b.get(m, 0)) for m in work}  # noqa: E731
        return _Unit(self.keys + o.keys, work, most(self.counts, o.counts), most(self.fit, o.fit))


def _units(
    groups: Sequence[Sequence[str]],
    served: Mapping[str, _Served],
    wanted: set[str],
    companions: Mapping[str, Iterable[str]],
    swap_share: Mapping[str, float],
) -> list[_Unit]:
    """A group (an agent model and the companions its episodes call) as one unit, or, with a
    ``swap_share`` for its agents, as the agents' own episodes and, apart, their episodes that
    call a companion with the companions' whole work."""
    out: list[_Unit] = []
    for g in groups:
        split = [m for m in g if m in wanted and 0 < swap_share.get(m, 0.0) < 1]
        if not split:
            out.append(_Unit([m for m in g if m in wanted], {m: served[m].busy_gpu_s for m in g}))
            continue
        main = {m: served[m].busy_gpu_s * (1 - swap_share[m]) for m in split}
        swap = {m: served[m].busy_gpu_s * swap_share[m] for m in split}
        swap.update({m: served[m].busy_gpu_s for m in g if m not in split})
        out.append(_Unit(split, main))
        keys = [
            f"{m}{SWAP}{c}" for m in split for c in sorted(companions.get(m, ())) if c in served
        ]
        out.append(_Unit(keys + [m for m in g if m in wanted and m not in split], swap))
    return out


def _local(served: Mapping[str, _Served], work: Mapping[str, float]) -> dict[str, _Served]:
    """``served`` restricted to ``work``'s models, each with that much work."""
    return {m: replace(served[m], busy_gpu_s=w) for m, w in work.items()}


def _sized(counts: Mapping[str, int], served: Mapping[str, _Served]) -> dict[str, int]:
    """Replicas that finish each model's work when the phase's slowest model (at ``counts``)
    finishes, at most ``counts``: the phase holds every replica until it drains, so a model
    with less work gets fewer (a swap_model replacement, a model sharing a phase)."""
    rate = lambda m, r: r * served[m].gpus_per_replica  # noqa: E731
    span = max((served[m].busy_gpu_s / rate(m, r) for m, r in counts.items()), default=0.0)
    if span <= 0:
        return dict(counts)
    return {
        m: min(r, max(1, math.ceil(served[m].busy_gpu_s / rate(m, 1) / span - 1e-9)))
        for m, r in counts.items()
    }


def _billed_gpu_s(
    counts: Mapping[str, int], served: Mapping[str, _Served], held: int, node: int = 1
) -> float:
    """What a phase bills: its span (the slowest model's load and work) times the GPUs of the
    whole ``node``-GPU nodes its replicas take, plus ``held`` GPUs served through every phase
    (the inline judge)."""
    span = max((served[m].span_s(r) for m, r in counts.items()), default=0.0)
    nodes = sum(math.ceil(n / node) * node for n in _need(counts, served).values())
    return span * (nodes + held)


def _span_s(counts: Mapping[str, int], served: Mapping[str, _Served]) -> float:
    """A phase's span: its slowest model's load and work."""
    return max((served[m].span_s(r) for m, r in counts.items()), default=0.0)


def _fewer(counts: Mapping[str, int], served: Mapping[str, _Served]) -> list[dict[str, int]]:
    """``counts`` with fewer replicas of one model (any number fewer: giving a node back can
    take several), each sized to the new span (``_sized``)."""
    return [
        _sized({**counts, m: fewer}, served) for m, r in counts.items() for fewer in range(1, r)
    ]


def _trimmed(
    counts: Mapping[str, int],
    served: Mapping[str, _Served],
    held: int,
    node: int,
    limit_s: float,
) -> dict[str, int]:
    """``counts`` with fewer replicas while that bills less and the span stays within
    ``limit_s``: a phase whose replicas spill onto one more node for a few GPUs (a swap_model
    replacement beside a model filling whole nodes) is cheaper a little longer on fewer nodes."""
    out = dict(counts)
    while True:
        now = _billed_gpu_s(out, served, held, node)
        options = [
            (_billed_gpu_s(c, served, held, node), c)
            for c in _fewer(out, served)
            if _span_s(c, served) <= limit_s + 1e-6
        ]
        if not options or min(b for b, _ in options) >= now - 1e-6:
            return out
        out = min(options, key=lambda o: o[0])[1]


def _trim_all(
    phases: Sequence[tuple[dict[str, int], Mapping[str, _Served], float]], held: int, node: int
) -> list[dict[str, int]]:
    """Every phase's replicas (its counts, its models' work, its span at the schedule's
    replicas) trimmed (``_fewer``) where that bills less, the executor's makespan (the phases'
    spans, one after another) within ``MAKESPAN_SLACK`` times what it is at the schedule's
    replicas, the schedule's rule: a trim that saves without lengthening first, then the most
    GPU-seconds saved per second added, and none that saves under ``SAVING`` of the billed
    total (docs/design/cost.md, "Executor phases")."""
    out = [dict(c) for c, _, _ in phases]
    served = [sv for _, sv, _ in phases]
    budget = MAKESPAN_SLACK * sum(span for _, _, span in phases)
    while True:
        bills = [_billed_gpu_s(c, sv, held, node) for c, sv in zip(out, served, strict=True)]
        makespan = sum(_span_s(c, sv) for c, sv in zip(out, served, strict=True))
        best: tuple[float, float, int, dict[str, int]] | None = None
        for i, (c, sv) in enumerate(zip(out, served, strict=True)):
            for fewer in _fewer(c, sv):
                saved = bills[i] - _billed_gpu_s(fewer, sv, held, node)
                added = _span_s(fewer, sv) - _span_s(c, sv)
                if saved <= 1e-6 or makespan + added > budget + 1e-6:
                    continue
                if added > 1e-6 and saved < SAVING * sum(bills):
                    continue
                option = (math.inf if added <= 1e-6 else saved / added, saved, i, fewer)
                if best is None or option[:2] > best[:2]:
                    best = option
        if best is None:
            return out
        out[best[2]] = best[3]


def _need(counts: Mapping[str, int], served: Mapping[str, _Served]) -> dict[str, int]:
    need: dict[str, int] = defaultdict(int)
    for m, r in counts.items():
        need[served[m].gpu] += r * served[m].gpus_per_replica
    return need


def _fits(
    counts: Mapping[str, int],
    served: Mapping[str, _Served],
    capacity: Mapping[str, int],
    cap: int | None,
) -> bool:
    if cap is not None and len(counts) > cap:
        return False
    return all(n <= capacity.get(t, 0) for t, n in _need(counts, served).items())


def _shrunk(
    counts: Mapping[str, int], served: Mapping[str, _Served], capacity: Mapping[str, int]
) -> dict[str, int]:
    """``counts`` scaled down per GPU type until they fit (one replica each at least)."""
    out = dict(counts)
    for t, n in _need(counts, served).items():
        room = capacity.get(t, 0)
        if n <= room:
            continue
        mine = [m for m in out if served[m].gpu == t]
        for m in mine:
            out[m] = max(1, math.floor(out[m] * room / n))
    return out


def render(
    phases: Sequence[Phase], jobs: Sequence[Job], node_gpus: int, pinned: Iterable[str] = ()
) -> Schedule:
    """``phases`` one after another on nodes (first fit per GPU type, from node 0 in each
    phase), every model's work on its replicas after its load; a phase ends with its slowest
    model and holds all its replicas until then (the executor drains it, then releases the
    whole deployment), and the next starts then. ``pinned`` jobs span them all."""
    by_name = {j.model: j for j in jobs if j.gpu_s > 0}
    pinned = [m for m in dict.fromkeys(pinned) if m in by_name]
    share = _phase_shares(phases, by_name, pinned)
    segments: list[Segment] = []
    t = 0.0
    nodes: dict[str, list[int]] = defaultdict(list)  # GPU type -> node ids, reused per phase
    for i, phase in enumerate(phases):
        counts = phase.replicas_of()
        served = [m for m in counts if m in by_name and m not in pinned]
        reps = [by_name[m] for m in served for _ in range(counts[m])]
        where, types = first_fit(reps, node_gpus)
        ids = []  # each of the phase's nodes: the id of a node of its type, reused per phase
        for k, gpu in enumerate(types):
            rank = types[:k].count(gpu)
            if rank == len(nodes[gpu]):
                nodes[gpu].append(_next_id(nodes))
            ids.append(nodes[gpu][rank])
        placed = [(ids[n], j, 1) for n, j in zip(where, reps, strict=True)]
        ends = {
            m: t + by_name[m].load_s + share[(i, m)] / (counts[m] * by_name[m].gpus_per_replica)
            for m in counts
            if m in by_name and m not in pinned
        }
        end = max(ends.values(), default=t)
        merged: dict[tuple[int, str], int] = defaultdict(int)
        for node, j, r in placed:
            merged[(node, j.model)] += r
        segments += [
            Segment(
                node,
                by_name[m].gpu,
                m,
                r,
                r * by_name[m].gpus_per_replica,
                t,
                by_name[m].load_s,
                end,  # the executor holds the phase's deployment until it drains
            )
            for (node, m), r in merged.items()
        ]
        t = end
    for m in pinned:
        j = by_name[m]
        r = max((p.replicas_of().get(m, 0) for p in phases), default=0) or j.replicas
        take = math.ceil(r * j.gpus_per_replica / node_gpus)
        per = max(1, node_gpus // j.gpus_per_replica)
        for k in range(take):
            n = min(per, r - k * per)
            nodes[j.gpu].append(node := _next_id(nodes))
            end = max(t, j.load_s + j.gpu_s / (r * j.gpus_per_replica))
            segments.append(Segment(node, j.gpu, m, n, n * j.gpus_per_replica, 0.0, j.load_s, end))
    billed = sorted({g.node for g in segments})
    work = [j for j in jobs if j.gpu_s > 0]
    return Schedule(
        "phased",
        tuple(segments),
        dict.fromkeys(billed, node_gpus),
        sum(j.gpu_s for j in work),
        lower_bound_gpu_s(work, node_gpus),
    )


def _next_id(nodes: Mapping[str, list[int]]) -> int:
    return 1 + max((n for ids in nodes.values() for n in ids), default=-1)


def _phase_shares(
    phases: Sequence[Phase], by_name: Mapping[str, Job], pinned: Sequence[str]
) -> dict[tuple[int, str], float]:
    """GPU-seconds of each model's work done in each phase: the phase's ``work`` share of it
    where the planner gave one, else an even split over the phases that serve the model (all
    of it in the one that does)."""
    where: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(phases):
        for m in p.replicas_of():
            if m in by_name and m not in pinned:
                where[m].append(i)
    out: dict[tuple[int, str], float] = {}
    for m, ids in where.items():
        for i in ids:
            share = dict(phases[i].work).get(m)
            out[(i, m)] = by_name[m].gpu_s * (1 / len(ids) if share is None else share)
    return out
