"""Prompt layouts p1 and p2 (docs/design/prompt-layout.md): same information, p2 shareable.

Every protocol runs on the sim with both layouts. In p2 the calls of one round must agree on
every character before the ``## Agent-specific`` section (that is what a prefix cache can
reuse), and that section must carry the agent's id; the sim must read both layouts to the same
facts and so act the same.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from typing import Any

import pytest

from agents.backends.chat import ChatRequest, ChatResponse
from agents.backends.sim import SimBackend, agent_reply, coordinator_reply, judge_reply
from agents.backends.sim_read import read_prompt
from agents.catalogue import ModelSpec, SimProfile
from agents.judge import JudgeSpec, judge_messages
from agents.prompts import AGENT_SECTION, PROMPT_VERSION, PROMPT_VERSIONS
from agents.protocols import PROTOCOLS
from agents.tasks import generate_tasks
from sweep.episode import EpisodeRows, run_episode
from sweep.spec import EpisodeSpec

NAMES = sorted(PROTOCOLS)
MODEL = ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75, abstention=0.3))
JUDGE = JudgeSpec(ModelSpec("sim_judge", "sim/judge", sim=SimProfile(capability=0.9)))
TASKS = tuple(generate_tasks(5, "L3", 2, namespace="layout"))
MISSION = "Keep our customers' operations secure and affordable."


class Recording:
    """The sim, keeping every request it was sent. ``facts_only``: its reply depends on what
    ``read_prompt`` finds and the seed, not on the wording (the real sim also hashes the text,
    as a model's sample depends on its exact prompt), so two layouts must act alike."""

    def __init__(self, facts_only: bool = False) -> None:
        self.inner = SimBackend()
        self.facts_only = facts_only
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if not self.facts_only:
            return await self.inner.chat(request)
        prompt, rng = read_prompt(request.messages), random.Random(request.seed)
        if request.schema_name == "judge":
            reply = judge_reply(request)
        elif request.schema_name == "coordinator_plan":
            reply = coordinator_reply(prompt, request.model.sim, rng)
        else:
            intention = request.schema_name == "intention"
            reply = agent_reply(prompt, request.model.sim, rng, intention=intention)
        return ChatResponse(json.dumps(reply), 1, 1, "stop", 0.0)


def episode(
    name: str, version: str, roles: str = "free", facts_only: bool = False
) -> tuple[EpisodeRows, Recording]:
    spec = EpisodeSpec(
        name, (), MODEL, 7, roles, "L3", TASKS, 3, MISSION, JUDGE,
        prompt_version=version, store_prompts=True,
    )  # fmt: skip
    backend = Recording(facts_only)
    return asyncio.run(run_episode(spec, backend)), backend  # type: ignore[arg-type]


def test_p2_is_the_default_and_p1_stays_selectable() -> None:
    assert PROMPT_VERSION == "p2"
    assert set(PROMPT_VERSIONS) == {"p1", "p2"}


@pytest.mark.parametrize("name", NAMES)
def test_p2_agents_of_one_round_share_everything_before_their_own_section(name: str) -> None:
    rows, _ = episode(name, "p2")
    rounds: dict[tuple[int, int, str], list[dict[str, Any]]] = defaultdict(list)
    for t in rows.transcripts:
        if t["kind"] in ("turn", "intention") and t["prompt"]:
            rounds[(t["step"], t["round"], t["kind"])].append(t)
    multi = [calls for calls in rounds.values() if len(calls) > 1]
    assert multi or name == "sequential", f"{name}: no round with two agent calls"
    for calls in multi:
        heads = set()
        for t in calls:
            head, sep, own = t["prompt"].partition(AGENT_SECTION)
            assert sep, f"{name}: agent {t['agent']}'s prompt has no {AGENT_SECTION} section"
            assert AGENT_SECTION not in own
            assert f"You are agent {t['agent']} in an organisation of 7." in own
            assert f"agent {t['agent']} " not in head.split("## What you can see")[0]
            heads.add(head)
        assert len(heads) == 1, f"{name}: agents of one round differ before their own section"


@pytest.mark.parametrize("name", ["sequential", "ripple"])
def test_p2_a_later_round_extends_the_view_of_the_one_before(name: str) -> None:
    """One agent per round in sequential: the cache reuses the previous round's prompt."""
    rows, _ = episode(name, "p2")
    by_round: dict[tuple[int, int], str] = {}
    for t in rows.transcripts:
        if t["kind"] == "turn" and t["prompt"]:
            by_round.setdefault((t["step"], t["round"]), t["prompt"])
    pairs = [(p, by_round.get((s, r + 1))) for (s, r), p in by_round.items()]
    pairs = [(a, b) for a, b in pairs if b is not None and "Nothing: you act alone." not in a]
    assert len(pairs) >= 2
    for earlier, later in pairs:
        assert later.startswith(earlier.split(f"\n\n{AGENT_SECTION}")[0])


@pytest.mark.parametrize("name", NAMES)
def test_p1_opens_with_the_agent_id_as_it_always_did(name: str) -> None:
    _, backend = episode(name, "p1")
    agent_calls = [
        r for r in backend.requests if r.purpose == "agent" and r.schema_name != "coordinator_plan"
    ]
    assert agent_calls
    for r in agent_calls:
        assert r.messages[0].content.startswith("You are agent ")
        assert AGENT_SECTION not in r.messages[1].content


@pytest.mark.parametrize("roles", ["free", "fixed"])
@pytest.mark.parametrize("name", NAMES)
def test_the_sim_reads_p1_and_p2_alike(name: str, roles: str) -> None:
    if roles == "fixed" and not PROTOCOLS[name].fixed_roles_allowed:
        pytest.skip("the coordinator assigns roles")
    (rows1, b1), (rows2, b2) = (episode(name, v, roles, facts_only=True) for v in ("p1", "p2"))
    assert len(b1.requests) == len(b2.requests)
    for r1, r2 in zip(b1.requests, b2.requests, strict=True):
        assert r1.messages != r2.messages
        assert read_prompt(r1.messages) == read_prompt(r2.messages)

    def acts(rows: EpisodeRows) -> list[tuple[Any, ...]]:
        keys = ("step", "agent", "round", "kind", "role", "participate", "text", "rationale")
        return [tuple(t[k] for k in keys) for t in rows.transcripts]

    assert acts(rows1) == acts(rows2)
    q = [[r["quality"] for r in rows.runs] for rows in (rows1, rows2)]
    assert q[0] == q[1]


def test_p2_judge_calls_of_one_task_share_all_but_the_deliverable() -> None:
    a, b = (judge_messages(TASKS[0], MISSION, d, version="p2") for d in ("first text", "other"))
    assert a[0] == b[0]  # the system message no longer names the per-deliverable tag
    ua, ub = a[1].content, b[1].content
    differ = next(i for i, (x, y) in enumerate(zip(ua, ub, strict=False)) if x != y)
    assert ua[:differ].endswith("<DELIVERABLE-")
    assert ua.startswith(f"# Task {TASKS[0].task_id}") and ua.endswith(">")
    p1 = judge_messages(TASKS[0], MISSION, "first text", version="p1")
    assert "<DELIVERABLE-" in p1[0].content


def test_p2_keeps_every_fact_of_p1_for_a_coordinated_worker() -> None:
    (_, b1), (_, b2) = (episode("coordinator", v, facts_only=True) for v in ("p1", "p2"))
    workers = [(r1, r2) for r1, r2 in zip(b1.requests, b2.requests, strict=True)
               if r1.schema_name == "agent_turn"]  # fmt: skip
    assert workers
    for r1, r2 in workers:
        lines1 = set("\n".join(m.content for m in r1.messages).splitlines())
        lines2 = set("\n".join(m.content for m in r2.messages).splitlines())
        for line in lines1:
            if line.startswith(("Coordinator's plan:", "Your assignment:", "R")):
                assert line in lines2


def test_an_unknown_prompt_version_is_one_clear_config_error() -> None:
    from sweep.config import build, compose
    from sweep.errors import ConfigError

    with pytest.raises(ConfigError, match=r"prompt_version='p9'; valid: p1, p2"):
        build(compose(["prompt_version=p9"]))
    assert build(compose(["prompt_version=p1"]))[0].prompt_version == "p1"
    assert build(compose())[0].prompt_version == "p2"
