"""Task skeletons: a level's structure without its content.

A skeleton fixes how many domains a task touches, its phases, and for every requirement its kind,
phase, dependencies and what it is about (a facet of domain slot k, an integration of two domain
slots, a phase gate, an L4 conflict resolution or missing-information item). ``skeletons(level)``
builds ``POOL`` of them once per process; ``generator`` fills one per task with content. Keeping
structure apart makes generation fast (the structure's hash text is computed once per skeleton)
and keeps each level's rules in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from agents.tasks.domains import DOMAIN_CATALOGUE, GATES, MISSING_FACETS, PHASE_NAMES
from agents.tasks.draws import Draws
from agents.tasks.model import KINDS, Requirement, structure_text

POOL = 512  # skeletons per level
# Slot sources: what a skeleton's requirement is about.
FACET, INTEGRATION, GATE, RESOLVE, MISSING = range(5)

Slot = tuple[int, int, int, int, str, int, tuple[int, ...]]  # source, a, b, c, kind, phase, deps


@dataclass(frozen=True)
class Skeleton:
    """A level's structure without content. ``slots[i]`` says what requirement ``i + 1`` is
    about: (source, a, b, c) with source FACET (domain slot, kind, occurrence), INTEGRATION
    (occurrence, domain slot, domain slot) or a fixed text (index into the gate texts, or for
    L4 into resolutions then missing-information texts). ``protos[i]`` holds its id, kind,
    phase and dependencies."""

    n_domains: int
    phase_names: tuple[str, ...]
    slots: tuple[tuple[int, int, int, int], ...]
    protos: tuple[dict[str, object], ...]
    structure: str  # structure_text of the requirements a fill produces
    gate_texts: tuple[str, ...] = ()
    n_conflicts: int = 0
    missing_facets: tuple[int, ...] = ()  # MISSING_FACETS index per missing item


@functools.cache
def skeletons(level: str) -> tuple[Skeleton, ...]:
    build = {"L1": _single, "L2": _cross, "L3": _multi_phase, "L4": _adversarial}[level]
    return tuple(build(Draws(f"skeleton/{level}/{i}".encode())) for i in range(POOL))


class _Counts:
    """Per (domain slot, kind) facet counts, so a task never needs more templates than the
    smallest domain has (no repeated text)."""

    def __init__(self) -> None:
        self.used: dict[tuple[int, int], int] = {}
        self.cap = (
            min(len(d.analyses) for d in DOMAIN_CATALOGUE.values()),
            min(len(d.actions) for d in DOMAIN_CATALOGUE.values()),
        )

    def facet(self, slot: int, want: int, phase: int, deps: tuple[int, ...]) -> Slot:
        kind = want if self.used.get((slot, want), 0) < self.cap[want] else 1 - want
        j = self.used.get((slot, kind), 0)
        self.used[(slot, kind)] = j + 1
        return (FACET, slot, kind, j, KINDS[kind], phase, deps)


def _finish(
    n_domains: int,
    slots: list[Slot],
    phase_names: tuple[str, ...] = (),
    gate_texts: tuple[str, ...] = (),
    n_conflicts: int = 0,
    missing_facets: tuple[int, ...] = (),
) -> Skeleton:
    reqs = tuple(Requirement(i + 1, "", s[4], s[5], s[6]) for i, s in enumerate(slots))
    return Skeleton(
        n_domains,
        phase_names,
        # Fixed texts of L4 are resolutions, then missing-information items.
        slots=tuple(
            (src, a + n_conflicts if src == MISSING else a, b, c) for src, a, b, c, *_ in slots
        ),
        protos=tuple(
            {"id": r.id, "kind": r.kind, "phase": r.phase, "depends_on": r.depends_on} for r in reqs
        ),
        structure=structure_text(reqs),
        gate_texts=gate_texts,
        n_conflicts=n_conflicts,
        missing_facets=missing_facets,
    )


def _single(draws: Draws) -> Skeleton:
    n = draws.between(3, 5)
    n_analysis = draws.between(1, n - 1)
    c = _Counts()
    return _finish(1, [c.facet(0, int(i >= n_analysis), 1, ()) for i in range(n)], phase_names=())


def _cross(draws: Draws) -> Skeleton:
    n = draws.between(5, 10)
    n_int = 1 if n < 8 else 2
    c = _Counts()
    slots = [c.facet(i & 1, draws.below(2), 1, ()) for i in range(n - n_int)]
    firsts, seconds = range(1, n - n_int + 1, 2), range(2, n - n_int + 1, 2)
    kinds = [0, 0]
    for _ in range(n_int):
        kind = draws.below(2)
        deps = (draws.choice(firsts), draws.choice(seconds))
        slots.append((INTEGRATION, kinds[kind], 0, 1, KINDS[kind], 1, _sorted2(*deps)))
        kinds[kind] += 1
    return _finish(2, slots, phase_names=())


def _multi_phase(draws: Draws) -> Skeleton:
    n_domains = draws.between(3, 4)
    names = draws.choice(PHASE_NAMES[draws.between(3, 4)])
    slots, gates = _phases(draws, n_domains, draws.between(10, 20), names, gates=True)
    return _finish(n_domains, slots, phase_names=names, gate_texts=gates)


def _adversarial(draws: Draws) -> Skeleton:
    n_domains = draws.between(3, 4)
    names = draws.choice(PHASE_NAMES[draws.between(2, 3)])
    n_conflicts = 3 if draws.below(4) == 0 else 2
    facets = tuple(draws.below(len(MISSING_FACETS)) for _ in range(draws.between(2, 3)))
    early = [(MISSING, i, f) for i, f in enumerate(facets) if MISSING_FACETS[f][0] == "analysis"]
    late = [(RESOLVE, i, 0) for i in range(n_conflicts)]
    late += [(MISSING, i, f) for i, f in enumerate(facets) if MISSING_FACETS[f][0] == "action"]
    n_core = draws.between(10, 20) - len(early) - len(late)
    slots, _ = _phases(draws, n_domains, n_core, names, early=early, late=late)
    return _finish(
        n_domains, slots, phase_names=names, n_conflicts=n_conflicts, missing_facets=facets
    )


def _phases(
    draws: Draws,
    n_domains: int,
    n: int,
    names: Sequence[str],
    *,
    gates: bool = False,
    early: Sequence[tuple[int, int, int]] = (),
    late: Sequence[tuple[int, int, int]] = (),
) -> tuple[list[Slot], tuple[str, ...]]:
    """``n`` requirements in phases, analyses leaning early and actions late. Every requirement
    after phase 1 depends on 1-2 of the phase before (one of its own domain when there is one).
    Each later phase opens with a gate (``gates``) and closes with an integration of two
    domains. ``early`` items (L4) end phase 1 without dependencies; ``late`` items end the last
    phase, each after 1-2 requirements of the phase before."""
    phases = len(names)
    c = _Counts()
    slots: list[Slot] = []
    gate_texts: list[str] = []
    int_used = [0, 0]
    prev: list[int] = []
    prev_by_domain: dict[int, list[int]] = {}
    slot = draws.below(n_domains)
    for p in range(1, phases + 1):
        size = n * p // phases - n * (p - 1) // phases
        cur: list[int] = []
        cur_by_domain: dict[int, list[int]] = {}
        p_analysis = 0.85 if p == 1 else (0.15 if p == phases else 0.5)
        for j in range(size):
            rid = len(slots) + 1
            if p > 1 and j == 0 and gates:
                text = draws.choice(GATES).format(qname=names[p - 2], pname=names[p - 1])
                slots.append((GATE, len(gate_texts), 0, 0, "action", p, tuple(prev[:3])))
                gate_texts.append(text)
            elif p > 1 and j == size - 1:
                kind = draws.below(2)
                da, db = draws.sample(range(n_domains), 2)
                deps = _two(prev, draws.bits())
                slots.append((INTEGRATION, int_used[kind], da, db, KINDS[kind], p, deps))
                int_used[kind] += 1
            else:
                d = slot % n_domains
                slot += 1
                want = 0 if draws.below(1000) < p_analysis * 1000 else 1
                deps = ()
                if prev:
                    same = prev_by_domain.get(d) or prev
                    one, other = draws.choice(same), draws.choice(prev)
                    two = draws.below(2) == 1 and other != one
                    deps = _sorted2(one, other) if two else (one,)
                slots.append(c.facet(d, want, p, deps))
                cur_by_domain.setdefault(d, []).append(rid)
            cur.append(rid)
        if p == 1:
            slots += [(src, a, b, 0, MISSING_FACETS[b][0], 1, ()) for src, a, b in early]
        if p == phases:
            for src, a, b in late:
                v = draws.bits()
                deps = _two(prev, v) if v & 1 else (prev[(v >> 1) % len(prev)],)
                late_kind = "action" if src == RESOLVE else MISSING_FACETS[b][0]
                slots.append((src, a, b, 0, late_kind, p, deps))
        prev, prev_by_domain = cur, cur_by_domain
    return slots, tuple(gate_texts)


def _sorted2(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _two(ids: Sequence[int], v: int) -> tuple[int, ...]:
    """Two different ids of ``ids`` (one when there is only one), ascending, from bits ``v``."""
    a = v % len(ids)
    if len(ids) == 1:
        return (ids[a],)
    b = (a + 1 + (v >> 8) % (len(ids) - 1)) % len(ids)
    return _sorted2(ids[a], ids[b])
