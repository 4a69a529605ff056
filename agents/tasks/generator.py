"""Deterministic synthetic task generator (levels L1..L4 as the paper defines them).

The paper's tasks are unpublished; this is orgsweep's operationalisation. A task is drawn from a
seeded ``random.Random`` only, so the same (seed, level, index) always gives the same task.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from agents.tasks.domains import DOMAIN_CATALOGUE, ORGS, SCALES
from agents.tasks.model import Requirement, Stakeholder, Task, make_task

DOMAINS: tuple[str, ...] = tuple(sorted(DOMAIN_CATALOGUE))

# (domains, requirement count) per level, from the paper's level definitions.
_LEVEL_SHAPE = {
    "L1": ((1, 1), (3, 5)),
    "L2": ((2, 2), (5, 10)),
    "L3": ((3, 4), (10, 20)),
    "L4": ((3, 4), (12, 20)),
}


def role_catalogue(domain: str) -> tuple[str, ...]:
    """Roles for the fixed-role condition (agent i gets ``catalogue[i % len]``)."""
    try:
        return DOMAIN_CATALOGUE[domain].roles
    except KeyError:
        raise KeyError(f"unknown domain {domain!r}; valid: {', '.join(DOMAINS)}") from None


def generate_tasks(seed: int, level: str, n: int, *, namespace: str = "") -> list[Task]:
    """``n`` tasks of ``level``; task ``i`` depends only on (seed, namespace, level, i)."""
    if level not in _LEVEL_SHAPE:
        raise ValueError(f"unknown level {level!r}; valid: {', '.join(_LEVEL_SHAPE)}")
    return [_one_task(random.Random(f"{seed}/{namespace}/{level}/{i}"), level) for i in range(n)]


def _one_task(rng: random.Random, level: str) -> Task:
    (dlo, dhi), (rlo, rhi) = _LEVEL_SHAPE[level]
    domains = tuple(rng.sample(DOMAINS, rng.randint(dlo, dhi)))
    org = rng.choice(ORGS)
    scale = rng.choice(SCALES)
    lead = DOMAIN_CATALOGUE[domains[0]]
    subject = rng.choice(lead.subjects)
    title = f"{rng.choice(lead.goals).capitalize()} for {subject} at {org}"
    n_req = rng.randint(rlo, rhi)
    phases = 1 if level in ("L1", "L2") else rng.randint(3, 4)
    requirements = _requirements(rng, domains, subject, n_req, phases, dependent=level >= "L3")
    stakeholders = _stakeholders(rng, domains) if level == "L4" else ()
    missing = _missing(rng, domains) if level == "L4" else ()
    brief = (
        f"{org} ({scale}) needs a deliverable on {subject} covering "
        f"{', '.join(domains)}. Address every numbered requirement; state assumptions."
    )
    if level == "L2":
        brief += " The answer must integrate both domains, not treat them separately."
    if level == "L3":
        brief += f" Work proceeds in {phases} phases; later phases build on earlier ones."
    if level == "L4":
        brief += " Stakeholders disagree, information is incomplete, and no single answer is right."
    return make_task(
        level=level,
        domains=domains,
        title=title,
        brief=brief,
        requirements=requirements,
        stakeholders=stakeholders,
        missing_info=missing,
    )


def _requirements(
    rng: random.Random,
    domains: Sequence[str],
    subject: str,
    n: int,
    phases: int,
    *,
    dependent: bool,
) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    for i in range(n):
        dom = DOMAIN_CATALOGUE[domains[i % len(domains)]]
        kind = "action" if rng.random() < 0.4 else "analysis"
        facet = rng.choice(dom.actions if kind == "action" else dom.analyses)
        number = rng.choice((2, 3, 5, 7, 10, 14, 30, 90))
        text = facet.format(subject=subject, n=number)
        phase = 1 + (i * phases) // n
        deps: tuple[int, ...] = ()
        if dependent and phase > 1:
            earlier = [r.id for r in out if r.phase == phase - 1]
            deps = tuple(sorted(rng.sample(earlier, min(len(earlier), rng.randint(1, 2)))))
        out.append(Requirement(i + 1, text, kind, phase, deps))
    return tuple(out)


def _stakeholders(rng: random.Random, domains: Sequence[str]) -> tuple[Stakeholder, ...]:
    from agents.tasks.domains import STAKEHOLDERS

    picked = rng.sample(STAKEHOLDERS, 3)
    return tuple(
        Stakeholder(name, interest, constraint.format(n=rng.choice((5, 10, 15, 20, 30))))
        for name, interest, constraint in picked
    )


def _missing(rng: random.Random, domains: Sequence[str]) -> tuple[str, ...]:
    pool = [m for d in domains for m in DOMAIN_CATALOGUE[d].unknowns]
    return tuple(rng.sample(pool, min(2, len(pool))))
