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

A task is a skeleton (``skeletons.py``: the structure) filled here with content (domains,
subjects, numbers, templates, organisation, stakeholders) from precomputed text tables; that split
makes 25,000 tasks take about two seconds. Task ``i`` depends only on (seed, namespace, level,
i) and on the tasks before it in the same call (a duplicate, which the combinatorics make very
unlikely, is redrawn), so a longer list extends a shorter one.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterator, Sequence

from agents.tasks.domains import (
    CONFLICTS,
    CONTEXTS,
    DOMAIN_CATALOGUE,
    INTEGRATIONS,
    MISSING_FACETS,
    ORGS,
    REGIONS,
    RESOLUTIONS,
    SCALES,
)
from agents.tasks.draws import Draws, orders
from agents.tasks.model import KINDS, LEVELS, Requirement, Stakeholder, Task, make_task
from agents.tasks.skeletons import FACET, INTEGRATION, Skeleton, skeletons

DOMAINS: tuple[str, ...] = tuple(sorted(DOMAIN_CATALOGUE))
GENERIC_ROLES = (
    "Programme Manager",
    "Business Analyst",
    "Risk Manager",
    "Solution Architect",
    "Change Manager",
    "Subject Matter Expert",
)
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


def role_catalogue(domain: str) -> tuple[str, ...]:
    """Roles for the fixed-role condition (agent i gets ``catalogue[i % len]``). Domains of
    user task files that orgsweep does not know get a generic catalogue."""
    d = DOMAIN_CATALOGUE.get(domain)
    return d.roles if d is not None else GENERIC_ROLES


def generate_tasks(seed: int, level: str, n: int, *, namespace: str = "") -> list[Task]:
    """``n`` distinct tasks of ``level``, deterministic in (seed, namespace, level)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; valid: {', '.join(LEVELS)}")
    pool = skeletons(level)
    base = f"{seed}/{namespace}/{level}/".encode()
    out: list[Task] = []
    seen: set[str] = set()
    with paused_gc():
        for i in range(n):
            key, redraw = base + str(i).encode(), 0
            while True:
                task = _fill(Draws(key), level, pool)
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


def _fill(draws: Draws, level: str, pool: Sequence[Skeleton]) -> Task:
    sk = pool[draws.below(len(pool))]
    domains = tuple(draws.sample(DOMAINS, sk.n_domains))
    subjects: list[str] = []
    picks = []  # per domain slot, per kind: (text table, template order, subject, variant)
    for d in domains:
        (analyses, actions), v = _texts(d), draws.bits()
        options = DOMAIN_CATALOGUE[d].subjects
        s, var = v % len(options), (v >> 4) & 7
        subjects.append(options[s])
        picks.append(
            (
                (analyses, orders(len(analyses))[(v >> 8) & 63], s, var),
                (actions, orders(len(actions))[(v >> 14) & 63], s, var),
            )
        )
    w = draws.bits()
    int_order = {
        "analysis": orders(len(_INTEGRATIONS["analysis"]))[w & 63],
        "action": orders(len(_INTEGRATIONS["action"]))[(w >> 6) & 63],
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
        if src == FACET:
            table, order, s, var = picks[a][b]
            text = table[order[c]][s][var]
        elif src == INTEGRATION:
            kind = str(proto["kind"])
            text = _INTEGRATIONS[kind][int_order[kind][a]].format(
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


def _stakes(draws: Draws, k: int) -> tuple[tuple[Stakeholder, ...], list[str]]:
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
    draws: Draws,
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
