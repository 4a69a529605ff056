"""Run one episode: steps of protocol -> deliverable -> judge -> metrics -> result rows.

Pure with respect to its inputs: the same spec and backend replies give the same rows (but
``wall_s`` and ``finished_at``). Infrastructure errors propagate to the executor, which retries;
model-output problems are recorded on the rows and never raise.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.backends import SYNTHETIC_ENGINE
from agents.backends.chat import Backend
from agents.catalogue import ModelSpec
from agents.contract import normalise_role
from agents.deliverable import assemble
from agents.judge import Verdict, judge
from agents.metrics import hierarchy_depth, role_stats
from agents.protocols import get_protocol, make_params
from agents.protocols.steps import StepOutcome
from agents.runtime import COORDINATOR, StepRuntime, TurnRecord, Usage, derive_seed
from agents.served import joined, merged
from agents.tasks import role_catalogue
from sweep.cost import attributed_cost, split_columns
from sweep.results.schema import DELIVERABLE
from sweep.spec import EpisodeSpec, canonical_json


@dataclass
class EpisodeRows:
    runs: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Org:
    """The organisation's state carried from step to step."""

    active: list[int]
    models: dict[int, ModelSpec]
    mission: str
    memory: list[list[tuple[int, str]]] = field(default_factory=list)
    last: StepOutcome | None = None


# A step whose judge is deferred (its own pass scores the stored deliverable later).
DEFERRED = Verdict(None, "", 0, 0, 0)


async def run_episode(
    spec: EpisodeSpec, backend: Backend, attempt: int = 1, judge_now: bool = True
) -> EpisodeRows:
    """``judge_now`` False: the steps are not judged here; their rows say ``judge_deferred``
    and carry no scores until the judge's pass (sweep/judge_pass.py) scores the deliverables."""
    entry = get_protocol(spec.protocol)
    params = make_params(spec.protocol, spec.params)
    org = _Org(
        list(range(spec.n_agents)), dict.fromkeys(range(spec.n_agents), spec.model), spec.mission
    )
    rows = EpisodeRows()
    # Fixed roles are drawn once per episode (from its first task's domain): an agent keeps its
    # role across steps, which is what "fixed" means and what RSI measures.
    cat = role_catalogue(spec.tasks[0].domains[0]) if spec.roles == "fixed" else ()
    roles = {a: cat[a % len(cat)] for a in org.active} if cat else {}
    for step, task in enumerate(spec.tasks):
        t0 = time.perf_counter()
        shock = _apply_shock(spec, org, step)
        fixed = {a: roles[a] for a in org.active if a in roles}
        rt = StepRuntime(
            backend=backend,
            task=task,
            mission=org.mission,
            n_agents=spec.n_agents,
            agents=tuple(org.active),
            models=org.models,
            coordinator_model=spec.model,
            seed=spec.seed,
            step=step,
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
            memory=[list(m) for m in org.memory],
            fixed_roles=fixed,
            store_prompts=spec.store_prompts,
            prompt_version=spec.prompt_version,
            affinity=spec.episode_id,
        )
        outcome = await entry.run(rt, params)
        deliverable = assemble(
            outcome.deliverable if outcome.deliverable is not None else outcome.turns,
            spec.judge.max_deliverable_tokens,
        )
        verdict = DEFERRED
        if judge_now:
            verdict = await judge(
                backend,
                spec.judge,
                task,
                org.mission,
                deliverable.text,
                derive_seed(spec.seed, step, "judge"),
                spec.prompt_version,
            )
        wall = time.perf_counter() - t0
        base = {"episode_id": spec.episode_id, "attempt": attempt, "step": step}
        run = _run_row(spec, step, shock, rt, outcome, verdict, deliverable, wall)
        rows.runs.append({**base, **run})
        rows.agents += [{**base, **_agent_row(t, rt.usage[t.agent], org)} for t in _final(outcome)]
        rows.transcripts += [{**base, **_transcript_row(t)} for t in rt.transcript]
        rows.transcripts.append(
            {
                **base,
                **_transcript_row(
                    TurnRecord(
                        DELIVERABLE,
                        0,
                        kind="deliverable",
                        contribution=deliverable.text,
                        participate=True,
                        rationale=verdict.justification,
                        parse_error=verdict.error,
                    )
                ),
            }
        )
        org.memory.append([(t.agent, t.role if t.participate else "") for t in outcome.turns])
        org.last = outcome
    return rows


def _final(outcome: StepOutcome) -> list[TurnRecord]:
    return ([outcome.coordinator] if outcome.coordinator else []) + outcome.turns


def _apply_shock(spec: EpisodeSpec, org: _Org, step: int) -> str:
    s = spec.shock
    if s is None or s.at_step != step:
        return ""
    rng = random.Random(derive_seed(spec.seed, "shock", step))
    if s.kind == "remove_random":
        gone = set(rng.sample(org.active, min(s.k, len(org.active) - 1)))
        org.active = [a for a in org.active if a not in gone]
    elif s.kind == "remove_hub":
        hub = _hub(org.last) if org.last else None
        if hub is not None and len(org.active) > 1:
            org.active = [a for a in org.active if a != hub]
    elif s.kind == "swap_model" and s.model is not None:
        k = round(s.fraction * len(org.active))
        for a in rng.sample(org.active, k):
            org.models[a] = s.model
    elif s.kind == "mission_shift":
        org.mission = s.mission
    return s.kind


def _hub(outcome: StepOutcome) -> int | None:
    """The most built-on agent of the last step (ties: lowest index)."""
    refs = Counter(b for t in outcome.turns for b in t.builds_on if b >= 0)
    if not refs:
        return None
    return min(refs, key=lambda a: (-refs[a], a))


def _run_row(
    spec: EpisodeSpec,
    step: int,
    shock: str,
    rt: StepRuntime,
    out: StepOutcome,
    verdict: Verdict,
    deliverable: Any,
    wall: float,
) -> dict[str, Any]:
    turns = out.turns
    part = [t for t in turns if t.participate]
    unique, dup, gini_ = role_stats(t.role for t in part)
    edges = {t.agent: t.builds_on for t in part}
    nodes = [t.agent for t in part]
    if out.coordinator is not None and out.coordinator.participate and part:
        nodes.append(COORDINATOR)
    usage = list(rt.usage.values())
    ptok = sum(u.prompt_tokens for u in usage)
    ctok = sum(u.completion_tokens for u in usage)
    s = verdict.scores or {}
    return {
        **spec_columns(spec, step),
        "shock": shock,
        "judge_model": spec.judge.model.name,
        "score_set": "default",
        "accuracy": s.get("accuracy"),
        "completeness": s.get("completeness"),
        "coherence": s.get("coherence"),
        "actionability": s.get("actionability"),
        "mission_score": s.get("mission_relevance"),
        "quality": verdict.quality,
        "mission_relevance": verdict.mission,
        # DEFERRED: not judged yet (the judge's own pass), so neither failed nor scored
        "judge_failed": None if verdict is DEFERRED else verdict.scores is None,
        "judge_deferred": verdict is DEFERRED,
        "n_active": len(turns),
        "n_participating": len(part),
        "n_abstained_voluntary": sum(t.abstain_reason == "voluntary" for t in turns),
        "n_excluded": sum(t.abstain_reason == "excluded_by_coordinator" for t in turns),
        "n_parse_errors": sum(bool(t.parse_error) for t in rt.transcript),
        "n_invalid_refs": sum(t.invalid_refs for t in rt.transcript),
        "n_unique_roles": unique,
        "role_duplication": dup,
        "role_gini": gini_,
        "hierarchy_depth": hierarchy_depth(edges, nodes),
        "llm_calls": sum(u.calls for u in usage),
        "repair_calls": sum(u.repairs for u in usage),
        "judge_calls": verdict.calls,
        "prompt_tokens": ptok,
        "completion_tokens": ctok,
        "judge_prompt_tokens": verdict.prompt_tokens,
        "judge_completion_tokens": verdict.completion_tokens,
        "rounds": out.rounds,
        "intentions_changed": out.intentions_changed,
        "context_compacted": out.context_compacted,
        "deliverable_truncated": deliverable.truncated,
        "deliverable_chars": len(deliverable.text),
        "wall_s": wall,
        **_accounting(spec, ptok, ctok, verdict),
        "status": "ok",
        "error_kind": "",
        "error": verdict.error[:500],
        "backend": "",
        "finished_at": datetime.now(UTC),
        **_served_columns(usage, verdict),
    }


def _served_columns(usage: list[Usage], verdict: Verdict) -> dict[str, Any]:
    """The runs row's provenance columns (agents.served)."""
    agents, judged = merged(u.served for u in usage), verdict.served
    return {
        "served_model": joined(agents.models),
        "judge_served_model": joined(judged.models),
        "served_fingerprint": joined(agents.fingerprints | judged.fingerprints),
        "served_mismatch": agents.mismatched + judged.mismatched,
        "tokens_estimated": agents.estimated,
        "judge_tokens_estimated": judged.estimated,
    }


def _accounting(spec: EpisodeSpec, ptok: int, ctok: int, verdict: Verdict) -> dict[str, Any]:
    """GPU-seconds and USD of the step, agent and judge parts and their sums (sweep.cost:
    attributed from tokens, not measured; docs/design/cost.md "Accounting")."""
    served = spec.engine != SYNTHETIC_ENGINE
    return split_columns(
        attributed_cost(spec.model, ptok, ctok, served),
        attributed_cost(spec.judge.model, verdict.prompt_tokens, verdict.completion_tokens, served),
    )


def _agent_row(t: TurnRecord, u: Usage, org: _Org) -> dict[str, Any]:
    model = org.models.get(t.agent)
    return {
        "agent": t.agent,
        "model": model.name if model else "",
        "role": t.role,
        "role_norm": normalise_role(t.role),
        "participate": t.participate,
        "abstain_reason": t.abstain_reason,
        "builds_on": list(t.builds_on),
        "invalid_refs": t.invalid_refs,
        "parse_error": bool(t.parse_error),
        "calls": u.calls,
        "repairs": u.repairs,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "latency_s": u.latency_s,
        "round": t.round,
        "contribution_chars": len(t.contribution),
        "served_model": joined(u.served.models),
        "tokens_estimated": u.served.estimated,
    }


def _transcript_row(t: TurnRecord) -> dict[str, Any]:
    return {
        "agent": t.agent,
        "round": t.round,
        "kind": t.kind,
        "role": t.role,
        "participate": t.participate,
        "text": t.contribution,
        "rationale": t.rationale,
        "error": t.parse_error,
        "prompt": t.prompt,
    }


def spec_columns(spec: EpisodeSpec, step: int) -> dict[str, Any]:
    """The ``runs`` columns that describe the episode and its task at ``step``."""
    task = spec.tasks[step]
    return {
        "sweep": spec.sweep,
        "block": spec.block,
        "protocol": spec.protocol,
        "protocol_params": canonical_json(spec.params),
        "model": spec.model.name,
        "model_id": spec.model.hf_id,
        "n_agents": spec.n_agents,
        "roles": spec.roles,
        "level": spec.level,
        "task_id": task.task_id,
        "task_hash": task.content_hash,
        "domains": ",".join(task.domains),
        "seed": spec.seed,
        "steps": spec.steps,
    }


def failed_rows(spec: EpisodeSpec, attempt: int, kind: str, error: str) -> EpisodeRows:
    """The ``runs`` row of an episode that failed after its last attempt."""
    return EpisodeRows(
        runs=[
            {
                "episode_id": spec.episode_id,
                "attempt": attempt,
                "step": 0,
                **spec_columns(spec, 0),
                "judge_model": spec.judge.model.name,
                "status": "failed",
                "error_kind": kind,
                "error": error[:500],
                "finished_at": datetime.now(UTC),
            }
        ]
    )
