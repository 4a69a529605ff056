"""The sim world (docs/design/sim.md): text in, text out; deterministic; mechanistic."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from agents.backends.chat import ChatRequest, Message
from agents.backends.options import SimOptions
from agents.backends.sim import SimBackend, respond
from agents.catalogue import ModelSpec, SimProfile
from agents.contract import AGENT_TURN_SCHEMA, OutputError, parse_turn
from agents.judge import JUDGE_SCHEMA, judge_messages, parse_verdict
from agents.prompts import VisibleTurn, agent_messages, render_turns
from agents.tasks import generate_tasks

MODEL = ModelSpec("m", "org/m", sim=SimProfile(capability=0.9))
TASK = generate_tasks(0, "L3", 1)[0]
MISSION = "Keep customers safe."


def _agent_request(visible: str = "", seed: int = 1, model: ModelSpec = MODEL) -> ChatRequest:
    msgs = agent_messages(
        agent=3, n_agents=8, mission=MISSION, task=TASK, visible=visible, instructions="Act."
    )
    return ChatRequest(model, msgs, 0.7, 512, seed, "agent_turn", AGENT_TURN_SCHEMA)


def test_deterministic_and_seed_sensitive() -> None:
    assert respond(_agent_request(seed=1)) == respond(_agent_request(seed=1))
    outs = {respond(_agent_request(seed=s)) for s in range(10)}
    assert len(outs) > 1


def test_reply_is_schema_valid_json() -> None:
    for s in range(20):
        turn = parse_turn(respond(_agent_request(seed=s)))
        assert len(turn.role) <= 60


def test_output_depends_only_on_the_text() -> None:
    """Two requests with the same messages give the same reply, whatever else differs."""
    a = _agent_request(seed=4)
    b = dataclasses.replace(a, purpose="repair", max_tokens=17)
    assert respond(a) == respond(b)


def test_agents_avoid_requirements_they_see_covered() -> None:
    covered = [r.id for r in TASK.requirements[:-1]]
    peers = render_turns(
        VisibleTurn(i, "Analyst", True, f"[R{r}] Done. (checked)") for i, r in enumerate(covered)
    )
    last = TASK.requirements[-1].id
    hits = 0
    for s in range(30):
        turn = parse_turn(respond(_agent_request(peers, seed=s)))
        if turn.participate and f"[R{last}]" in turn.contribution:
            hits += 1
    assert hits >= 15  # a capable agent mostly takes the one open requirement


def test_agents_abstain_more_when_everything_is_covered() -> None:
    all_done = render_turns(
        VisibleTurn(i, "Analyst", True, f"[R{r.id}] Done. (checked)")
        for i, r in enumerate(TASK.requirements)
    )
    abstain_full = sum(
        not parse_turn(respond(_agent_request(all_done, seed=s))).participate for s in range(40)
    )
    abstain_empty = sum(
        not parse_turn(respond(_agent_request("", seed=s))).participate for s in range(40)
    )
    assert abstain_full > abstain_empty


def _judge(deliverable: str) -> dict[str, int]:
    req = ChatRequest(
        MODEL, judge_messages(TASK, MISSION, deliverable), 0.0, 512, 0, "judge", JUDGE_SCHEMA
    )
    return parse_verdict(respond(req))[0]


def test_judge_rewards_coverage_and_checked_claims() -> None:
    reqs = TASK.requirements
    full = "\n\n".join(f"### Role {r.id}\n[R{r.id}] Done. (checked)" for r in reqs)
    half = "\n\n".join(f"### Role {r.id}\n[R{r.id}] Done. (assumption)" for r in reqs[::3])
    good, bad = _judge(full), _judge(half)
    assert good["completeness"] == 4 and bad["completeness"] < 4
    assert good["accuracy"] > bad["accuracy"]


def test_sim_backend_counts_tokens() -> None:
    resp = asyncio.run(SimBackend().chat(_agent_request()))
    assert resp.prompt_tokens > 100 and resp.completion_tokens > 0
    assert resp.latency_s == 0.0


def test_invalid_output_rate_breaks_first_replies_only() -> None:
    backend = SimBackend(SimOptions(invalid_output_rate=1.0))
    req = _agent_request()
    broken = asyncio.run(backend.chat(req)).text
    with pytest.raises(OutputError):
        parse_turn(broken)
    repair = dataclasses.replace(
        req,
        messages=(*req.messages, Message("assistant", broken), Message("user", "Reply again.")),
    )
    parse_turn(asyncio.run(backend.chat(repair)).text)
