"""Deterministic synthetic task generator (levels L1..L4 as the paper defines them).

The paper's tasks are unpublished; this is orgsweep's operationalisation:

- L1 single-domain: 1 domain, 3-5 requirements (at least one analysis and one action), one
  phase, no dependencies.
- L2 cross-domain: 2 domains, 5-10 requirements; the last 1-2 are integration requirements that
  depend on one requirement of each domain.
- L3 multi-phase: 3-4 domains, 10-20 requirements in 3-4 named phases; every requirement after
  phase 1 depends on 1-2 requirements of the phase before; phase gates and integrations.
- L4 adversarial: 3-4 domains, 10-20 requirements in 2-3 phases, 4-6 stakeholders whose hard
  constraints clash pairwise (``domains.CONFLICTS``), 2-3 items of missing information, and
  requirements to resolve each conflict and to reason about each missing item.

Task ``i`` depends only on (seed, namespace, level, i) and on the tasks before it in the same
call (a rare duplicate is redrawn), so a longer list extends a shorter one. Randomness comes from
BLAKE2b (``_Draws``), not ``random.Random``: it is cheap to seed per task and its output cannot
change with the Python version, which matters because task hashes enter episode ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
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
    Conflict,
)
from agents.tasks.model import Requirement, Stakeholder, Task, make_task

DOMAINS: tuple[str, ...] = tuple(sorted(DOMAIN_CATALOGUE))
GENERIC_ROLES = (
    "Programme Manager", "Business Analyst", "Risk Manager", "Solution Architect",
    "Change Manager", "Subject Matter Expert",
)

# (domain count range, requirement count range) per level.
_LEVEL_SHAPE = {
    "L1": ((1, 1), (3, 5)),
    "L2": ((2, 2), (5, 10)),
    "L3": ((3, 4), (10, 20)),
    "L4": ((3, 4), (10, 20)),
}
_SMALL = (3, 4, 5, 6, 8, 10, 12)
_DAYS = (14, 21, 30, 45, 60, 90)
_WEEKS = (2, 3, 4, 6, 8, 12)
_MONTHS = (3, 6, 9, 12, 18, 24)
_PCT = (5, 10, 15, 20, 25, 30, 40)
T = TypeVar("T")


def role_catalogue(domain: str) -> tuple[str, ...]:
    """Roles for the fixed-role condition (agent i gets ``catalogue[i % len]``). Domains of
    user task files that orgsweep does not know get a generic catalogue."""
    d = DOMAIN_CATALOGUE.get(domain)
    return d.roles if d is not None else GENERIC_ROLES


def generate_tasks(seed: int, level: str, n: int, *, namespace: str = "") -> list[Task]:
    """``n`` distinct tasks of ``level``, deterministic in (seed, namespace, level)."""
    if level not in _LEVEL_SHAPE:
        raise ValueError(f"unknown level {level!r}; valid: {', '.join(_LEVEL_SHAPE)}")
    base = f"{seed}/{namespace}/{level}/".encode()
    out: list[Task] = []
    seen: set[str] = set()
    for i in range(n):
        redraw = 0
        while True:
            key = base + (f"{i}" if not redraw else f"{i}~{redraw}").encode()
            task = _one_task(_Draws(key), level)
            if task.content_hash not in seen:
                break
            redraw += 1
        seen.add(task.content_hash)
        out.append(task)
    return out


class _Draws:
    """A stream of uniform integers from BLAKE2b(key, counter): 21 draws of 24 bits per hash."""

    __slots__ = ("_bits", "_counter", "_key", "_pool")

    def __init__(self, key: bytes):
        self._key = key
        self._counter = 0
        self._pool = 0
        self._bits = 0

    def below(self, n: int) -> int:
        if self._bits < 24:
            h = hashlib.blake2b(self._key, digest_size=64, salt=self._counter.to_bytes(16, "big"))
            self._pool = int.from_bytes(h.digest(), "big")
            self._bits = 512
            self._counter += 1
        v = self._pool & 0xFFFFFF
        self._pool >>= 24
        self._bits -= 24
        return v % n

    def between(self, lo: int, hi: int) -> int:
        return lo + self.below(hi - lo + 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def chance(self, p: float) -> bool:
        return self.below(1 << 20) < p * (1 << 20)

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        pool = list(seq)
        out = []
        for _ in range(min(k, len(pool))):
            j = self.below(len(pool))
            out.append(pool[j])
            pool[j] = pool[-1]
            pool.pop()
        return out


class _Facets:
    """Per-domain requirement templates, drawn without replacement (no repeated text)."""

    def __init__(self, draws: _Draws, domains: Sequence[str]):
        self.draws = draws
        self.left: dict[tuple[str, str], list[str]] = {}
        for d in domains:
            self.left[(d, "analysis")] = list(DOMAIN_CATALOGUE[d].analyses)
            self.left[(d, "action")] = list(DOMAIN_CATALOGUE[d].actions)

    def take(self, domain: str, kind: str) -> tuple[str, str]:
        """(kind, template); falls back to the other kind when one runs out."""
        for k in (kind, "action" if kind == "analysis" else "analysis"):
            pool = self.left[(domain, k)]
            if pool:
                j = self.draws.below(len(pool))
                tpl = pool[j]
                pool[j] = pool[-1]
                pool.pop()
                return k, tpl
        raise ValueError(f"domain {domain!r} ran out of requirement templates")


def _fill(draws: _Draws, template: str, subject: str) -> str:
    v = draws.below(1 << 20)
    return template.format(
        subject=subject,
        n=_SMALL[v % 7],
        days=_DAYS[(v >> 3) % 6],
        weeks=_WEEKS[(v >> 6) % 6],
        months=_MONTHS[(v >> 9) % 6],
        pct=_PCT[(v >> 12) % 7],
    )


def _one_task(draws: _Draws, level: str) -> Task:
    (dlo, dhi), (rlo, rhi) = _LEVEL_SHAPE[level]
    domains = tuple(draws.sample(DOMAINS, draws.between(dlo, dhi)))
    subjects = {d: draws.choice(DOMAIN_CATALOGUE[d].subjects) for d in domains}
    org, sector = draws.choice(ORGS)
    n_req = draws.between(rlo, rhi)
    stakeholders: tuple[Stakeholder, ...] = ()
    missing: tuple[str, ...] = ()
    phase_names: tuple[str, ...] = ()
    if level == "L1":
        reqs = _single_domain(draws, domains[0], subjects[domains[0]], n_req)
    elif level == "L2":
        reqs = _cross_domain(draws, domains, subjects, n_req)
    elif level == "L3":
        phase_names = draws.choice(PHASE_NAMES[draws.between(3, 4)])
        reqs = _phased(draws, domains, subjects, n_req, phase_names, gates=True)
    else:
        phase_names = draws.choice(PHASE_NAMES[draws.between(2, 3)])
        conflicts = _conflicts(draws, 3 if draws.chance(0.25) else 2)
        stakeholders = tuple(s for c, x, y in conflicts for s in _stakeholders(c, x, y))
        pool = [m for d in domains for m in DOMAIN_CATALOGUE[d].unknowns]
        missing = tuple(draws.sample(pool, draws.between(2, 3)))
        extra = _adversarial_facets(draws, conflicts, missing)
        reqs = _phased(draws, domains, subjects, n_req - len(extra), phase_names, gates=False)
        reqs = _append_adversarial(draws, reqs, extra)
    if len({r.text for r in reqs}) != len(reqs):  # the vocabulary's invariant; see domains.py
        raise RuntimeError(f"duplicate requirement text in a generated {level} task")
    goal = draws.choice(DOMAIN_CATALOGUE[domains[0]].goals)
    title, brief = _title_brief(draws, level, domains, subjects, goal, org, sector, phase_names)
    return make_task(
        level=level,
        domains=domains,
        title=title,
        brief=brief,
        requirements=reqs,
        stakeholders=stakeholders,
        missing_info=missing,
    )


def _single_domain(draws: _Draws, domain: str, subject: str, n: int) -> tuple[Requirement, ...]:
    facets = _Facets(draws, (domain,))
    n_analysis = draws.between(1, n - 1)
    out = []
    for i in range(n):
        kind, tpl = facets.take(domain, "analysis" if i < n_analysis else "action")
        out.append(Requirement(i + 1, _fill(draws, tpl, subject), kind))
    return tuple(out)


def _cross_domain(
    draws: _Draws, domains: Sequence[str], subjects: dict[str, str], n: int
) -> tuple[Requirement, ...]:
    facets = _Facets(draws, domains)
    n_int = 1 if n < 8 else 2
    out: list[Requirement] = []
    by_domain: dict[str, list[int]] = {d: [] for d in domains}
    for i in range(n - n_int):
        d = domains[i % 2]
        kind, tpl = facets.take(d, "analysis" if draws.chance(0.55) else "action")
        out.append(Requirement(i + 1, _fill(draws, tpl, subjects[d]), kind))
        by_domain[d].append(i + 1)
    for kind, tpl in draws.sample(INTEGRATIONS, n_int):
        deps = tuple(sorted(draws.choice(by_domain[d]) for d in domains))
        text = _integration(tpl, domains[0], domains[1], subjects)
        out.append(Requirement(len(out) + 1, text, kind, 1, deps))
    return tuple(out)


def _integration(tpl: str, da: str, db: str, subjects: dict[str, str]) -> str:
    return tpl.format(da=da, db=db, sa=subjects[da], sb=subjects[db])


def _phased(
    draws: _Draws,
    domains: Sequence[str],
    subjects: dict[str, str],
    n: int,
    phase_names: Sequence[str],
    *,
    gates: bool,
) -> tuple[Requirement, ...]:
    """Requirements in phases; each one after phase 1 depends on 1-2 of the phase before."""
    facets = _Facets(draws, domains)
    phases = len(phase_names)
    integrations = draws.sample(INTEGRATIONS, phases - 1)
    out: list[Requirement] = []
    prev: list[tuple[int, str]] = []  # (id, domain) of the phase before
    slot = draws.below(len(domains))
    for p in range(1, phases + 1):
        size = n * p // phases - n * (p - 1) // phases
        cur: list[tuple[int, str]] = []
        for j in range(size):
            rid = len(out) + 1
            if p > 1 and j == 0 and gates:
                text = draws.choice(GATES).format(qname=phase_names[p - 2], pname=phase_names[p - 1])
                deps = tuple(i for i, _ in prev)[:3]
                out.append(Requirement(rid, text, "action", p, deps))
                cur.append((rid, domains[0]))
            elif p > 1 and j == size - 1:
                kind, tpl = integrations[p - 2]
                da, db = draws.sample(domains, 2)
                text = _integration(tpl, da, db, subjects)
                out.append(Requirement(rid, text, kind, p, _deps(draws, prev, None, k=2)))
                cur.append((rid, da))
            else:
                d = domains[slot % len(domains)]
                slot += 1
                p_analysis = 0.85 if p == 1 else (0.15 if p == phases else 0.5)
                kind, tpl = facets.take(d, "analysis" if draws.chance(p_analysis) else "action")
                deps = _deps(draws, prev, d) if prev else ()
                out.append(Requirement(rid, _fill(draws, tpl, subjects[d]), kind, p, deps))
                cur.append((rid, d))
        prev = cur
    return tuple(out)


def _deps(
    draws: _Draws, prev: list[tuple[int, str]], domain: str | None, k: int = 0
) -> tuple[int, ...]:
    """1-2 ids of the previous phase, preferring one of the same domain."""
    k = k or (1 if draws.chance(0.6) else 2)
    same = [i for i, d in prev if d == domain]
    picked = {draws.choice(same)} if same else set()
    ids = [i for i, _ in prev]
    while len(picked) < min(k, len(ids)):
        picked.add(draws.choice(ids))
    return tuple(sorted(picked))


def _conflicts(draws: _Draws, k: int) -> list[tuple[Conflict, int, int]]:
    """``k`` conflicts whose stakeholders are all different people."""
    out: list[tuple[Conflict, int, int]] = []
    names: set[str] = set()
    for c in draws.sample(CONFLICTS, len(CONFLICTS)):
        if c.a[0] in names or c.b[0] in names:
            continue
        x, y = draws.choice(c.numbers)
        out.append((c, x, y))
        names |= {c.a[0], c.b[0]}
        if len(out) == k:
            break
    return out


def _stakeholders(c: Conflict, x: int, y: int) -> tuple[Stakeholder, Stakeholder]:
    return (
        Stakeholder(c.a[0], c.a[1], c.a[2].format(x=x, y=y)),
        Stakeholder(c.b[0], c.b[1], c.b[2].format(x=x, y=y)),
    )


def _adversarial_facets(
    draws: _Draws, conflicts: list[tuple[Conflict, int, int]], missing: Sequence[str]
) -> list[tuple[str, str, bool]]:
    """(kind, text, last phase?) for each conflict to resolve and each missing item."""
    out = []
    for c, _, _ in conflicts:
        text = draws.choice(RESOLUTIONS).format(axis=c.axis, a=c.a[0], b=c.b[0])
        out.append(("action", text, True))
    for m in missing:
        kind, tpl = draws.choice(MISSING_FACETS)
        out.append((kind, tpl.format(m=m if m.startswith("the ") else f"the {m}"), kind == "action"))
    return out


def _append_adversarial(
    draws: _Draws, reqs: tuple[Requirement, ...], extra: list[tuple[str, str, bool]]
) -> tuple[Requirement, ...]:
    """Missing-information analyses join phase 1; resolutions and no-regret steps the last
    phase, after 1-2 requirements of the phase before it."""
    last = reqs[-1].phase
    out = [r for r in reqs if r.phase == 1]
    for kind, text, late in extra:
        if not late:
            out.append(Requirement(len(out) + 1, text, kind, 1))
    shift = {r.id: r.id for r in out}
    for r in reqs:
        if r.phase == 1:
            continue
        new = len(out) + 1
        shift[r.id] = new
        out.append(Requirement(new, r.text, r.kind, r.phase, tuple(shift[d] for d in r.depends_on)))
    before = [(r.id, "") for r in out if r.phase == max(1, last - 1)]
    for kind, text, late in extra:
        if late:
            out.append(Requirement(len(out) + 1, text, kind, last, _deps(draws, before, None)))
    return tuple(out)


def _title_brief(
    draws: _Draws,
    level: str,
    domains: Sequence[str],
    subjects: dict[str, str],
    goal: str,
    org: str,
    sector: str,
    phase_names: Sequence[str],
) -> tuple[str, str]:
    sa = subjects[domains[0]]
    scale, region, context = draws.choice(SCALES), draws.choice(REGIONS), draws.choice(CONTEXTS)
    intro = f"{org} ({scale} in {sector}, operating in {region}) "
    a = "an" if goal[0] in "aeiouAEIOU" else "a"
    if level == "L1":
        title = f"{goal[0].upper()}{goal[1:]} for {sa} at {org}"
        brief = intro + f"needs {a} {goal} for {sa} {context}."
    elif level == "L2":
        sb = subjects[domains[1]]
        title = f"{goal[0].upper()}{goal[1:]} for {sa} and {sb} at {org}"
        brief = intro + (
            f"needs one integrated {goal} covering {sa} ({domains[0]}) and {sb} ({domains[1]}) "
            f"{context}. The two domains must be integrated, not treated separately."
        )
    else:
        others = ", ".join(f"{subjects[d]} ({d})" for d in domains[1:])
        phases = " -> ".join(phase_names)
        title = f"{len(phase_names)}-phase {goal} for {sa} at {org}"
        brief = intro + (
            f"needs {a} {goal} for {sa} ({domains[0]}) {context}; it also touches {others}. "
            f"The work runs in {len(phase_names)} phases ({phases}); later phases build on "
            "earlier ones, so respect the stated dependencies."
        )
        if level == "L4":
            title = f"Contested {goal} for {sa} at {org}"
            brief += (
                " The stakeholders' constraints conflict, some information is missing, and "
                "no single answer is right: make every trade-off and assumption explicit."
            )
    return title, brief + " Address every numbered requirement and state your assumptions."
