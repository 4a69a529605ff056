"""Deterministic synthetic task generator (levels L1..L4 as the paper defines them).

The paper's tasks are unpublished; this is orgsweep's operationalisation:

- L1 single-domain: 1 domain, 3-5 requirements (analyses, then actions; at least one of each),
  one phase, no dependencies.
- L2 cross-domain: 2 domains, 5-10 requirements alternating between them; the last 1-2 are
  integrations that depend on one requirement of each domain.
- L3 multi-phase: 3-4 domains, 10-20 requirements in 3-4 named phases; every requirement after
  phase 1 depends on 1-2 of the phase before; each later phase opens with a gate and closes with
  an integration of two domains.
- L4 adversarial: 3-4 domains, 10-20 requirements in 2-3 phases; 4-6 stakeholders whose hard
  constraints clash pairwise (``domains.CONFLICTS``) and 2-3 items of missing information, with a
  requirement to resolve each conflict and one to reason about each missing item.

How (for speed: 25,000 tasks in about a second or two): a task is a *skeleton* (the level's
structure: kinds, phases, dependencies and what each requirement is about, drawn from a pool of
``POOL`` skeletons per level built once per process) filled with content (domains, subjects,
numbers, templates, organisation, stakeholders) from precomputed text tables. Randomness comes
from BLAKE2b (``_Draws``), not ``random.Random``: cheap to seed per task, and it cannot change
with the Python version, which matters because task hashes enter episode ids. Task ``i`` depends
only on (seed, namespace, level, i) and on the tasks before it in the same call (a duplicate,
which the combinatorics make very unlikely, is redrawn), so a longer list extends a shorter one.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from agents.tasks.domains import (
    CONFLICTS,
    CONTEXTS,
    DOMAIN_CATALOGUE,
    GATES,
    INTEGRATIONS,
    MISSING_FACETS,
    ORGS,
    PHASE_NAMES,
    REGIONS,
    RESOLUTIONS,
    SCALES,
)
from agents.tasks.model import Requirement, Stakeholder, Task, make_task, structure_text

DOMAINS: tuple[str, ...] = tuple(sorted(DOMAIN_CATALOGUE))
GENERIC_ROLES = (
    "Programme Manager",
    "Business Analyst",
    "Risk Manager",
    "Solution Architect",
    "Change Manager",
    "Subject Matter Expert",
)
POOL = 512  # skeletons per level
T = TypeVar("T")

# (domain count range, requirement count range) per level.
_LEVEL_SHAPE = {
    "L1": ((1, 1), (3, 5)),
    "L2": ((2, 2), (5, 10)),
    "L3": ((3, 4), (10, 20)),
    "L4": ((3, 4), (10, 20)),
}
KINDS = ("analysis", "action")
# Slot sources: what a skeleton's requirement is about.
_FACET, _INTEGRATION, _GATE, _RESOLVE, _MISSING = range(5)
# Number variants: values the ``{n}``, ``{days}``, ... slots of a template take.
_VARIANTS = tuple(
    {
        "n": (3, 4, 5, 6, 8, 10, 12, 15)[k],
        "days": (14, 21, 30, 45, 60, 90)[k % 6],
        "weeks": (2, 3, 4, 6, 8, 12)[(k + 2) % 6],
        "months": (3, 6, 9, 12, 18, 24)[(k + 4) % 6],
        "pct": (5, 10, 15, 20, 25, 30, 40, 50)[(k + 3) % 8],
    }
    for k in range(8)
)
_INTEGRATIONS = {k: tuple(t for kind, t in INTEGRATIONS if kind == k) for k in KINDS}
_new = object.__new__
_WORDS = struct.Struct("<16I").unpack


def role_catalogue(domain: str) -> tuple[str, ...]:
    """Roles for the fixed-role condition (agent i gets ``catalogue[i % len]``). Domains of
    user task files that orgsweep does not know get a generic catalogue."""
    d = DOMAIN_CATALOGUE.get(domain)
    return d.roles if d is not None else GENERIC_ROLES


def generate_tasks(seed: int, level: str, n: int, *, namespace: str = "") -> list[Task]:
    """``n`` distinct tasks of ``level``, deterministic in (seed, namespace, level)."""
    if level not in _LEVEL_SHAPE:
        raise ValueError(f"unknown level {level!r}; valid: {', '.join(_LEVEL_SHAPE)}")
    pool = _skeletons(level)
    base = f"{seed}/{namespace}/{level}/".encode()
    out: list[Task] = []
    seen: set[str] = set()
    with paused_gc():
        for i in range(n):
            key, redraw = base + str(i).encode(), 0
            while True:
                task = _fill(_Draws(key), level, pool)
                if task.content_hash not in seen:
                    break
                redraw += 1
                key = base + f"{i}~{redraw}".encode()
            seen.add(task.content_hash)
            out.append(task)
    return out


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: tasks hold no reference cycles, and with it running
    it rescans every live task object again and again (a third of the time for 25,000 tasks)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Draws:
    """Uniform random 32-bit integers: BLAKE2b(key, counter) read as 16 little-endian words."""

    __slots__ = ("_counter", "_i", "_key", "_words")

    def __init__(self, key: bytes):
        self._key = key
        self._counter = 0
        self._words: tuple[int, ...] = ()
        self._i = 16

    def bits(self) -> int:
        """32 random bits (callers slice one draw into several decisions)."""
        if self._i == 16:
            self._words = _WORDS(hashlib.blake2b(self._key + b"#%d" % self._counter).digest())
            self._counter += 1
            self._i = 0
        self._i += 1
        return self._words[self._i - 1]

    def below(self, n: int) -> int:
        return self.bits() % n

    def between(self, lo: int, hi: int) -> int:
        return lo + self.bits() % (hi - lo + 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.bits() % len(seq)]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct items (by position) in draw order; ``k`` must be <= ``len(seq)``."""
        picked: list[int] = []
        while len(picked) < k:
            i = self.bits() % len(seq)
            if i not in picked:
                picked.append(i)
        return [seq[i] for i in picked]


def _rotation(v: int, size: int) -> tuple[int, int]:
    """(start, step) with ``step`` coprime to ``size``: ``(start + j * step) % size`` for
    j = 0, 1, ... visits every index once, so picks never repeat within a task."""
    steps = _steps(size)
    return v % size, steps[(v >> 8) % len(steps)]


@functools.cache
def _steps(size: int) -> tuple[int, ...]:
    return tuple(s for s in range(1, max(size, 2)) if math.gcd(s, size) == 1) or (1,)


# ---- skeletons ------------------------------------------------------------------------------

Slot = tuple[int, int, int, int, str, int, tuple[int, ...]]  # source, a, b, c, kind, phase, deps


@dataclass(frozen=True)
class _Skeleton:
    """A level's structure without content. ``slots[i]`` says what requirement ``i + 1`` is
    about: (source, a, b, c) with source _FACET (domain slot, kind, occurrence), _INTEGRATION
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
def _skeletons(level: str) -> tuple[_Skeleton, ...]:
    build = {"L1": _single, "L2": _cross, "L3": _multi_phase, "L4": _adversarial}[level]
    return tuple(build(_Draws(f"skeleton/{level}/{i}".encode())) for i in range(POOL))


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
        return (_FACET, slot, kind, j, KINDS[kind], phase, deps)


def _finish(
    n_domains: int,
    slots: list[Slot],
    phase_names: tuple[str, ...] = (),
    gate_texts: tuple[str, ...] = (),
    n_conflicts: int = 0,
    missing_facets: tuple[int, ...] = (),
) -> _Skeleton:
    reqs = tuple(Requirement(i + 1, "", s[4], s[5], s[6]) for i, s in enumerate(slots))
    return _Skeleton(
        n_domains,
        phase_names,
        # Fixed texts of L4 are resolutions, then missing-information items.
        slots=tuple(
            (src, a + n_conflicts if src == _MISSING else a, b, c) for src, a, b, c, *_ in slots
        ),
        protos=tuple(
            {"id": r.id, "kind": r.kind, "phase": r.phase, "depends_on": r.depends_on} for r in reqs
        ),
        structure=structure_text(reqs),
        gate_texts=gate_texts,
        n_conflicts=n_conflicts,
        missing_facets=missing_facets,
    )


def _single(draws: _Draws) -> _Skeleton:
    n = draws.between(3, 5)
    n_analysis = draws.between(1, n - 1)
    c = _Counts()
    return _finish(1, [c.facet(0, int(i >= n_analysis), 1, ()) for i in range(n)], phase_names=())


def _cross(draws: _Draws) -> _Skeleton:
    n = draws.between(5, 10)
    n_int = 1 if n < 8 else 2
    c = _Counts()
    slots = [c.facet(i & 1, draws.below(2), 1, ()) for i in range(n - n_int)]
    firsts, seconds = range(1, n - n_int + 1, 2), range(2, n - n_int + 1, 2)
    kinds = [0, 0]
    for _ in range(n_int):
        kind = draws.below(2)
        deps = (draws.choice(firsts), draws.choice(seconds))
        slots.append((_INTEGRATION, kinds[kind], 0, 1, KINDS[kind], 1, _sorted2(*deps)))
        kinds[kind] += 1
    return _finish(2, slots, phase_names=())


def _multi_phase(draws: _Draws) -> _Skeleton:
    n_domains = draws.between(3, 4)
    names = draws.choice(PHASE_NAMES[draws.between(3, 4)])
    slots, gates = _phases(draws, n_domains, draws.between(10, 20), names, gates=True)
    return _finish(n_domains, slots, phase_names=names, gate_texts=gates)


def _adversarial(draws: _Draws) -> _Skeleton:
    n_domains = draws.between(3, 4)
    names = draws.choice(PHASE_NAMES[draws.between(2, 3)])
    n_conflicts = 3 if draws.below(4) == 0 else 2
    facets = tuple(draws.below(len(MISSING_FACETS)) for _ in range(draws.between(2, 3)))
    early = [(_MISSING, i, f) for i, f in enumerate(facets) if MISSING_FACETS[f][0] == "analysis"]
    late = [(_RESOLVE, i, 0) for i in range(n_conflicts)]
    late += [(_MISSING, i, f) for i, f in enumerate(facets) if MISSING_FACETS[f][0] == "action"]
    n_core = draws.between(10, 20) - len(early) - len(late)
    slots, _ = _phases(draws, n_domains, n_core, names, early=early, late=late)
    return _finish(
        n_domains, slots, phase_names=names, n_conflicts=n_conflicts, missing_facets=facets
    )


def _phases(
    draws: _Draws,
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
                slots.append((_GATE, len(gate_texts), 0, 0, "action", p, tuple(prev[:3])))
                gate_texts.append(text)
            elif p > 1 and j == size - 1:
                kind = draws.below(2)
                da, db = draws.sample(range(n_domains), 2)
                deps = _two(prev, draws.bits())
                slots.append((_INTEGRATION, int_used[kind], da, db, KINDS[kind], p, deps))
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
                late_kind = "action" if src == _RESOLVE else MISSING_FACETS[b][0]
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


# ---- filling a skeleton with content ---------------------------------------------------------


@functools.cache
def _texts(domain: str) -> tuple[tuple[tuple[tuple[str, ...], ...], ...], ...]:
    """[kind][template][subject][variant] -> requirement text, for one domain."""
    d = DOMAIN_CATALOGUE[domain]
    return tuple(
        tuple(
            tuple(tuple(t.format(subject=s, **v) for v in _VARIANTS) for s in d.subjects)
            for t in templates
        )
        for templates in (d.analyses, d.actions)
    )


def _fill(draws: _Draws, level: str, pool: Sequence[_Skeleton]) -> Task:
    sk = pool[draws.below(len(pool))]
    domains = tuple(draws.sample(DOMAINS, sk.n_domains))
    subjects: list[str] = []
    picks = []  # per domain slot and kind: (texts, start, step, size, subject index, variant)
    for d in domains:
        texts, v, w = _texts(d), draws.bits(), draws.bits()
        options = DOMAIN_CATALOGUE[d].subjects
        s, var = v % len(options), (v >> 5) & 7
        subjects.append(options[s])
        picks.append(
            tuple(
                (t, *_rotation(w >> (12 * k), len(t)), len(t), s, var) for k, t in enumerate(texts)
            )
        )
    w = draws.bits()
    ints = {
        k: (t, *_rotation(w >> (12 * i), len(t))) for i, (k, t) in enumerate(_INTEGRATIONS.items())
    }
    stakeholders: tuple[Stakeholder, ...] = ()
    missing: tuple[str, ...] = ()
    fixed = sk.gate_texts
    if sk.n_conflicts:
        stakeholders, resolutions = _stakes(draws, sk.n_conflicts)
        pool_m = [m for d in domains for m in DOMAIN_CATALOGUE[d].unknowns]
        missing = tuple(draws.sample(pool_m, len(sk.missing_facets)))
        fixed = (*resolutions, *_missing_texts(sk.missing_facets, missing))
    reqs = []
    for (src, a, b, c), proto in zip(sk.slots, sk.protos, strict=True):
        if src == _FACET:
            table, start, step, size, s, var = picks[a][b]
            text = table[(start + c * step) % size][s][var]
        elif src == _INTEGRATION:
            tpls, start, step = ints[str(proto["kind"])]
            text = tpls[(start + a * step) % len(tpls)].format(
                da=domains[b], db=domains[c], sa=subjects[b], sb=subjects[c]
            )
        else:
            text = fixed[a]
        r = _new(Requirement)
        r.__dict__.update(proto)  # the frozen dataclass, built without its setattr calls
        r.__dict__["text"] = text
        reqs.append(r)
    title, brief = _title_brief(draws, level, domains, subjects, sk.phase_names)
    return make_task(
        level=level,
        domains=domains,
        title=title,
        brief=brief,
        requirements=tuple(reqs),
        stakeholders=stakeholders,
        missing_info=missing,
        structure=sk.structure,
    )


def _missing_texts(facets: Sequence[int], missing: Sequence[str]) -> list[str]:
    return [
        MISSING_FACETS[f][1].format(m=m if m.startswith("the ") else f"the {m}")
        for f, m in zip(facets, missing, strict=True)
    ]


def _stakes(draws: _Draws, k: int) -> tuple[tuple[Stakeholder, ...], list[str]]:
    """Stakeholders of ``k`` conflicts (all different people) and a resolution text each."""
    people: list[Stakeholder] = []
    texts: list[str] = []
    names: set[str] = set()
    while len(texts) < k:
        v = draws.bits()
        c = CONFLICTS[v % len(CONFLICTS)]
        if c.a[0] in names or c.b[0] in names:
            continue
        x, y = c.numbers[(v >> 8) % len(c.numbers)]
        for name, interest, constraint in (c.a, c.b):
            people.append(Stakeholder(name, interest, constraint.format(x=x, y=y)))
            names.add(name)
        texts.append(
            RESOLUTIONS[(v >> 16) % len(RESOLUTIONS)].format(axis=c.axis, a=c.a[0], b=c.b[0])
        )
    return tuple(people), texts


def _title_brief(
    draws: _Draws,
    level: str,
    domains: Sequence[str],
    subjects: Sequence[str],
    phase_names: Sequence[str],
) -> tuple[str, str]:
    v, w = draws.bits(), draws.bits()
    org, sector = ORGS[v % len(ORGS)]
    goals = DOMAIN_CATALOGUE[domains[0]].goals
    goal = goals[(v >> 5) % len(goals)]
    scale, region = SCALES[(v >> 10) % len(SCALES)], REGIONS[(v >> 14) % len(REGIONS)]
    context = CONTEXTS[w % len(CONTEXTS)]
    sa = subjects[0]
    intro = f"{org} ({scale} in {sector}, operating in {region}) "
    a = "an" if goal[0] in "aeiouAEIOU" else "a"
    goal_cap = goal[0].upper() + goal[1:]
    if level == "L1":
        title = f"{goal_cap} for {sa} at {org}"
        brief = f"{intro}needs {a} {goal} for {sa} {context}."
    elif level == "L2":
        sb = subjects[1]
        title = f"{goal_cap} for {sa} and {sb} at {org}"
        brief = (
            f"{intro}needs one integrated {goal} covering {sa} ({domains[0]}) and {sb} "
            f"({domains[1]}) {context}. The two domains must be integrated, not treated "
            "separately."
        )
    else:
        others = ", ".join(f"{s} ({d})" for s, d in zip(subjects[1:], domains[1:], strict=True))
        k = len(phase_names)
        title = f"{k}-phase {goal} for {sa} at {org}"
        brief = (
            f"{intro}needs {a} {goal} for {sa} ({domains[0]}) {context}; it also touches "
            f"{others}. The work runs in {k} phases ({' -> '.join(phase_names)}); later phases "
            "build on earlier ones, so respect the stated dependencies."
        )
        if level == "L4":
            title = f"Contested {goal} for {sa} at {org}"
            brief += (
                " The stakeholders' constraints conflict, some information is missing, and no "
                "single answer is right: make every trade-off and assumption explicit."
            )
    return title, brief + " Address every numbered requirement and state your assumptions."
