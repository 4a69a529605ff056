"""The ``sim`` backend: a deterministic synthetic LLM (docs/design/sim.md). Never evidence about
LLMs.

It receives the same chat messages a real model receives and returns the same JSON. Its output
is a pure function of (model profile, messages, seed). Protocol differences come only from what
each prompt shows (peers' tagged work, intentions, assignments, memory): nothing here knows which
protocol is running.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from typing import Any

from agents.backends.chat import SIM_SERVED, ChatRequest, ChatResponse, estimate_tokens
from agents.backends.options import Runtime, SimOptions
from agents.backends.sim_judge import adjusted, skimmed
from agents.backends.sim_read import Prompt, Req, read_prompt
from agents.backends.sim_world import CORES, FILLER, GENERIC, NOUNS, QUALIFIERS, VERBS
from agents.catalogue import SimProfile

_LEVEL_PENALTY = {"L1": 0.0, "L2": 0.05, "L3": 0.12, "L4": 0.25}


class SimBackend:
    """Options (``SimOptions``): ``simulate_latency`` (sleep for the profile's decode time;
    benchmarks only) and ``invalid_output_rate`` (share of first replies that are broken JSON,
    to exercise repair). It needs nothing from the executor's ``Runtime``."""

    def __init__(self, options: SimOptions | None = None, runtime: Runtime | None = None):
        o = options or SimOptions()
        self.simulate_latency = o.simulate_latency
        self.invalid_output_rate = o.invalid_output_rate

    async def chat(self, request: ChatRequest) -> ChatResponse:
        text = respond(request, self.invalid_output_rate)
        ptok = sum(estimate_tokens(m.content) for m in request.messages)
        ctok = estimate_tokens(text)
        latency = ctok / max(request.model.sim.tokens_per_s, 1e-6)
        if self.simulate_latency:
            await asyncio.sleep(latency)
        return ChatResponse(
            text,
            ptok,
            ctok,
            "stop",
            latency if self.simulate_latency else 0.0,
            served_model=SIM_SERVED + request.model.name,
            tokens_estimated=True,
        )

    async def aclose(self) -> None:
        return None


def _rng(request: ChatRequest) -> random.Random:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{request.model.name}|{request.seed}|".encode())
    for m in request.messages:
        h.update(m.role.encode())
        h.update(m.content.encode())
    return random.Random(h.digest())


def respond(request: ChatRequest, invalid_output_rate: float = 0.0) -> str:
    rng = _rng(request)
    prompt = read_prompt(request.messages)
    if not prompt.is_repair and rng.random() < invalid_output_rate:
        return '{"role": "Analyst", "participate": tru'  # truncated JSON
    if request.schema_name == "judge":
        return json.dumps(judge_reply(request, rng))
    if request.schema_name == "coordinator_plan":
        return json.dumps(coordinator_reply(prompt, request.model.sim, rng))
    intention = request.schema_name == "intention"
    return json.dumps(agent_reply(prompt, request.model.sim, rng, intention=intention))


# ---- agents ---------------------------------------------------------------------------------


def role_name(domains: tuple[str, ...], rng: random.Random) -> str:
    cores = CORES.get(rng.choice(domains) if domains else "", GENERIC)
    return f"{rng.choice(QUALIFIERS)} {rng.choice(cores)} {rng.choice(NOUNS)}"


def _choose(p: Prompt, prof: SimProfile, rng: random.Random) -> tuple[list[Req], bool]:
    """(requirements to address, participate)."""
    by_id = {r.id: r for r in p.reqs}
    if not p.reqs:
        return [], rng.random() > prof.abstention
    if p.focus:
        if rng.random() < prof.capability:
            return [by_id[i] for i in p.focus if i in by_id] or [rng.choice(p.reqs)], True
        return [rng.choice(p.reqs)], True
    if p.own_intent and all(
        min(p.claimed.get(r, [p.agent])) == p.agent for r in p.own_intent if r in by_id
    ):
        kept = [by_id[r] for r in p.own_intent if r in by_id]
        if kept:
            return kept, True
    taken = set(p.covered) | {r for r, who in p.claimed.items() if any(a != p.agent for a in who)}
    open_ = [r for r in p.reqs if r.id not in taken]
    if not open_:
        if rng.random() < 0.35 + 0.6 * prof.abstention:
            return [], False
        return [rng.choice(p.reqs)], True
    if rng.random() < 0.04 * (1 - prof.capability):
        return [], False
    if rng.random() < prof.capability:
        ready = [r for r in open_ if all(d in p.covered for d in r.after)] or open_
        pool = ready
    else:
        pool = p.reqs
    picks = [rng.choice(pool)]
    if rng.random() < 0.25 * prof.verbosity and len(pool) > 1:
        extra = rng.choice(pool)
        if extra is not picks[0]:
            picks.append(extra)
    return picks, True


def agent_reply(
    p: Prompt, prof: SimProfile, rng: random.Random, *, intention: bool
) -> dict[str, Any]:
    if p.seeds and not intention:
        return clone_reply(p, prof, rng)
    picks, participate = _choose(p, prof, rng)
    participate = participate or bool(p.focus)
    role = p.fixed_role or p.assigned_role
    if not role and p.past_roles and rng.random() < 0.2 + 0.4 * prof.capability:
        role = p.past_roles[-1]
    role = role or role_name(p.domains, rng)
    tags = " ".join(f"[R{r.id}]" for r in picks)
    if intention:
        why = f"I intend to cover {tags}." if participate else "Others cover the work."
        return {"role": role, "participate": participate, "rationale": why}
    if not participate:
        endorse = _endorse(p, prof, rng)  # [] (and no draw) unless workspace traces are in view
        return {
            "role": role,
            "participate": False,
            "contribution": "",
            "builds_on": endorse,
            "rationale": f"I endorse agent {endorse[0]}'s trace."
            if endorse
            else "The visible work already covers what I could add.",
        }
    contribution, builds = _contribution(p, prof, rng, picks)
    return {
        "role": role,
        "participate": True,
        "contribution": contribution,
        "builds_on": builds,
        "rationale": f"As {role} I address {tags}.",
    }


def _endorse(p: Prompt, prof: SimProfile, rng: random.Random) -> list[int]:
    """With workspace traces in view, a capable abstainer reinforces the strongest trace of one
    requirement instead of doing nothing (no random draw when no trace is visible)."""
    filed = sorted({r for a, r, _ in p.traces if r is not None and a != p.agent})
    if not filed or rng.random() >= prof.capability:
        return []
    req = rng.choice(filed)
    best = max((s, -i) for i, (a, r, s) in enumerate(p.traces) if r == req and a != p.agent)
    return [p.traces[-best[1]][0]]


def clone_reply(p: Prompt, prof: SimProfile, rng: random.Random) -> dict[str, Any]:
    """Seed proposals in view: clone one (its role, its requirements redone, plus an open one
    next to them) or abstain when nothing is left open."""
    open_ = [r for r in p.reqs if r.id not in p.covered]
    if (not open_ and rng.random() < 0.35 + 0.6 * prof.abstention) or rng.random() < 0.04 * (
        1 - prof.capability
    ):
        return {
            "role": p.fixed_role or role_name(p.domains, rng),
            "participate": False,
            "contribution": "",
            "builds_on": [],
            "rationale": "The proposals need no clone.",
        }
    agent, role, tags = rng.choice(p.seeds)
    by_id = {r.id: r for r in p.reqs}
    picks = [by_id[t] for t in tags if t in by_id]
    if open_:
        ready = [r for r in open_ if all(d in p.covered for d in r.after)] or open_
        picks.append(rng.choice(ready if rng.random() < prof.capability else open_))
    contribution, _ = _contribution(p, prof, rng, picks or [rng.choice(p.reqs)])
    role = p.fixed_role or role
    return {
        "role": role,
        "participate": True,
        "contribution": contribution,
        "builds_on": [agent],
        "rationale": f"I clone agent {agent}'s proposal as {role} and extend it.",
    }


def _contribution(
    p: Prompt, prof: SimProfile, rng: random.Random, picks: list[Req]
) -> tuple[str, list[int]]:
    sentences: list[str] = []
    builds: list[int] = []
    for r in picks:
        grounded = not r.after or all(d in p.covered for d in r.after)
        p_checked = (
            prof.capability - _LEVEL_PENALTY.get(p.level, 0.1) + (0.15 if grounded else -0.1)
        )
        mark = "(checked)" if rng.random() < min(0.98, max(0.05, p_checked)) else "(assumption)"
        sentences.append(f"[R{r.id}] {rng.choice(VERBS)} the {r.kind} for R{r.id}. {mark}")
        for d in (*r.after, r.id):
            builds += [a for a in p.covered.get(d, []) if a not in builds][:1]
    for _ in range(round(prof.verbosity * rng.uniform(0.5, 2.5))):
        sentences.append(rng.choice(FILLER))
    if p.stakeholders and len(p.stakeholders) > 1 and rng.random() < prof.capability:
        a, b = rng.sample(p.stakeholders, 2)
        sentences.append(f"[trade-off] Balances {a} against {b}.")
    if p.mission and rng.random() < 0.3 + 0.6 * prof.capability:
        sentences.append(f"This serves the mission: {' '.join(p.mission.split()[:8])}.")
    return " ".join(sentences), builds[:3]


# ---- coordinator ----------------------------------------------------------------------------


def coordinator_reply(p: Prompt, prof: SimProfile, rng: random.Random) -> dict[str, Any]:
    n = max(p.n_workers, 1)
    order = sorted(p.reqs, key=lambda r: (r.phase, r.id))
    kept = [r for r in order if rng.random() >= (1 - prof.capability) * 0.3]
    focus: dict[int, list[Req]] = {w: [] for w in range(n)}
    for i, r in enumerate(kept):
        focus[i % n].append(r)
    assignments = []
    for w in range(n):
        mine = focus[w]
        include = bool(mine) or rng.random() < (1 - prof.capability) * 0.5
        assignments.append(
            {
                "agent": w,
                "role": role_name(p.domains, rng),
                "phase": min((r.phase for r in mine), default=1),
                "include": include,
                "focus": ", ".join(f"R{r.id}" for r in mine),
            }
        )
    plan = f"Cover {len(kept)} of {len(order)} requirements in phase order with {n} workers."
    return {"plan": plan, "assignments": assignments}


# ---- judge ----------------------------------------------------------------------------------

_DELIV = re.compile(r"<(DELIVERABLE-[0-9a-f]+)>\n(.*)\n</\1>", re.S)
_REQLINE = re.compile(r"^R(\d+) \[(\w+),", re.M)
_TAG = re.compile(r"\[R(\d+)\]")


def _band(x: float, cuts: tuple[float, float, float]) -> int:
    return 1 + sum(x >= c for c in cuts)


def judge_reply(request: ChatRequest, rng: random.Random | None = None) -> dict[str, Any]:
    """Score from what the deliverable shows: coverage, checked claims, duplication, actions,
    mission references, then the judge model's synthetic profile (``sim_judge``). Deterministic:
    the judge runs at temperature 0."""
    prof = request.model.sim.judge
    rng = rng or _rng(request)
    user = next(m.content for m in request.messages if m.role == "user")
    m = _DELIV.search(user)
    deliverable = m.group(2) if m else ""
    task_part = user[: m.start()] if m else user
    reqs = {int(i): kind for i, kind in _REQLINE.findall(task_part)}
    parts = [x for x in re.split(r"^### ", deliverable, flags=re.M) if x.strip()]
    per_req: dict[int, int] = {}
    for part in skimmed(parts, prof, rng):
        for r in {int(t) for t in _TAG.findall(part)} & set(reqs):
            per_req[r] = per_req.get(r, 0) + 1
    k = max(len(reqs), 1)
    coverage = len(per_req) / k
    checked, assumed = deliverable.count("(checked)"), deliverable.count("(assumption)")
    accuracy = checked / (checked + assumed) if checked + assumed else 0.0
    dup = sum(c - 1 for c in per_req.values()) / max(sum(per_req.values()), 1)
    actions = [r for r, kind in reqs.items() if kind == "action"]
    action_cov = sum(r in per_req for r in actions) / len(actions) if actions else coverage
    mission = sum("serves the mission" in part for part in parts) / max(len(parts), 1)
    coherence = 4 - (dup > 0.15) - (dup > 0.35) - (dup > 0.6)
    if "## Stakeholders" in task_part and parts and "[trade-off]" not in deliverable:
        coherence -= 1
    scores = {
        "accuracy": _band(accuracy, (0.4, 0.65, 0.85)) if parts else 1,
        "completeness": _band(coverage, (0.4, 0.7, 0.95)),
        "coherence": max(1, coherence) if parts else 1,
        "actionability": _band(action_cov, (0.4, 0.7, 0.95)),
        "mission_relevance": _band(mission, (0.2, 0.5, 0.75)) if parts else 1,
    }
    scores = adjusted(scores, len(deliverable), prof, rng)
    why = (
        f"Covers {len(per_req)}/{len(reqs)} requirements; {checked} checked vs {assumed} "
        f"assumed claims; duplication {dup:.2f}."
    )
    return {**scores, "justification": why}
