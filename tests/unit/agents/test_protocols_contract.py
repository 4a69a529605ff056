"""The protocol contract (docs/design/protocols.md sections 2-4), parametrised over ``PROTOCOLS``.

Registering a ninth protocol runs it through every test here; the tests that need the spec's
word for it (call/round table, visibility) fail until that word is added to ``SPEC`` and
``VISIBILITY`` below. Visibility is asserted on the prompts the agents actually received: a
backend wrapper stamps every agent reply with a marker naming its author and call, so the markers
found in a prompt are exactly the peer outputs that prompt showed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.backends.chat import ChatRequest, ChatResponse
from agents.backends.options import SimOptions
from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec, SimProfile
from agents.contract import normalise_role
from agents.judge import JudgeSpec
from agents.protocols import PROTOCOLS, make_params
from agents.tasks import generate_tasks, role_catalogue
from sweep.episode import EpisodeRows, run_episode
from sweep.results.schema import AGENTS, DELIVERABLE, RUNS, TRANSCRIPTS
from sweep.spec import EpisodeSpec

NAMES = sorted(PROTOCOLS)
MODEL = ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75, abstention=0.5))
JUDGE = JudgeSpec(ModelSpec("sim_judge", "sim/judge", sim=SimProfile(capability=0.9)))
TASKS = tuple(generate_tasks(11, "L3", 1, namespace="contract"))
MISSION = "Keep our customers' operations secure and affordable."
CONF = Path(__file__).resolve().parents[3] / "conf"
ADDED_LATER = {
    "batch",
    "node",
    "n_agent_rows",
    "n_transcript_rows",
}  # the store / executor add them


def make_spec(name: str, n: int, **kw: Any) -> EpisodeSpec:
    kw.setdefault("store_prompts", True)
    return EpisodeSpec(
        name, (), MODEL, n, kw.pop("roles", "free"), "L3", TASKS, 0, MISSION, JUDGE, **kw
    )


def run(spec: EpisodeSpec, backend: Any = None) -> EpisodeRows:
    return asyncio.run(run_episode(spec, backend or SimBackend()))


def params_of(name: str) -> Any:
    return make_params(name, {})


# ---- the table of docs/design/protocols.md section 3, written out apart from the registry ----


def _waves(n: int, g: int) -> list[int]:
    sizes: list[int] = []
    size = 1
    while sum(sizes) < n:
        sizes.append(min(size, n - sum(sizes)))
        size *= g
    return sizes


@dataclass(frozen=True)
class Table:
    calls: Callable[[int, Any], int] | None  # None: coordinator (1 + included workers)
    rounds: Callable[[int, Any], int]


SPEC: dict[str, Table] = {
    "coordinator": Table(None, lambda n, p: 2),
    "sequential": Table(lambda n, p: n, lambda n, p: n),
    "broadcast": Table(lambda n, p: 2 * n, lambda n, p: 2),
    "shared": Table(lambda n, p: n, lambda n, p: 1),
    "ripple": Table(lambda n, p: n, lambda n, p: len(_waves(n, p.growth))),
    "stigmergic": Table(lambda n, p: p.rounds * n, lambda n, p: p.rounds),
    "morphogenetic": Table(lambda n, p: 2 * n, lambda n, p: 2),
    "clonal": Table(lambda n, p: n, lambda n, p: 2 if n > math.ceil(math.sqrt(n)) else 1),
}


def expected_calls(name: str, n: int, run_row: dict[str, Any]) -> int:
    t = SPEC[name]
    if t.calls is None:
        return 1 + n - run_row["n_excluded"]
    return t.calls(n, params_of(name))


# ---- backend wrappers ------------------------------------------------------------------------

_AGENT = re.compile(r"^You are agent (\d+) in an organisation", re.M)
MARK = re.compile(r"@@a(m?\d+)c(\d+)@@")


def agent_of(req: ChatRequest) -> int | None:
    """The agent index a request is for (-1 coordinator, None judge), from its system text."""
    if req.schema_name == "judge":
        return None
    m = _AGENT.search("\n".join(m.content for m in req.messages[:2]))  # p2: id in the user text
    return int(m.group(1)) if m else -1


def mark(agent: int, k: int) -> str:
    return f"@@a{'m1' if agent < 0 else agent}c{k}@@"


JUDGE_CALL = -99  # Call.agent of the judge's requests


@dataclass
class Call:
    agent: int
    k: int
    purpose: str
    schema: str
    text: str
    model: str

    @property
    def seen(self) -> set[tuple[int, int]]:
        return {(-1 if a == "m1" else int(a), int(k)) for a, k in MARK.findall(self.text)}


@dataclass
class Recorder:
    """Wraps a backend: records every request and, with ``stamp``, appends a marker naming the
    author and its call number to every agent/coordinator reply's text fields."""

    inner: Any = field(default_factory=SimBackend)
    stamp: bool = False
    calls: list[Call] = field(default_factory=list)
    counts: Counter[int] = field(default_factory=Counter)

    async def chat(self, req: ChatRequest) -> ChatResponse:
        agent = agent_of(req)
        if agent is not None and req.purpose != "repair":
            self.counts[agent] += 1
        k = self.counts[agent] if agent is not None else 0
        text = "\n\n".join(m.content for m in req.messages)
        who = JUDGE_CALL if agent is None else agent
        self.calls.append(Call(who, k, req.purpose, req.schema_name, text, req.model.name))
        reply = await self.inner.chat(req)
        if not self.stamp or agent is None:
            return reply
        try:
            obj = json.loads(reply.text)
        except ValueError:
            return reply
        tag = mark(agent, k)
        for key in ("role", "rationale", "plan"):
            if isinstance(obj.get(key), str):
                obj[key] = f"{tag} {obj[key]}" if key == "role" else f"{obj[key]} {tag}"
        if obj.get("contribution"):
            obj["contribution"] += f" {tag}"
        return dataclasses.replace(reply, text=json.dumps(obj))

    async def aclose(self) -> None:
        return None

    def agent_calls(self) -> list[Call]:
        return [c for c in self.calls if c.agent != JUDGE_CALL and c.purpose != "repair"]


@dataclass
class Breaker(Recorder):
    """Breaks the first reply of every call by agents in ``first`` (the repair succeeds) and
    both replies of every call by agents in ``always`` (the turn becomes invalid_output)."""

    first: frozenset[int] = frozenset()
    always: frozenset[int] = frozenset()

    async def chat(self, req: ChatRequest) -> ChatResponse:
        reply = await super().chat(req)
        agent = agent_of(req)
        broken = agent in self.always or (agent in self.first and req.purpose != "repair")
        return (
            dataclasses.replace(reply, text='{"role": "x", "participate": tru') if broken else reply
        )


# ---- invariants every protocol's rows satisfy ------------------------------------------------


def check_rows(name: str, n: int, rows: EpisodeRows) -> dict[str, Any]:
    """Every metric present and in range; agents/transcripts consistent with runs."""
    assert len(rows.runs) == 1
    r = rows.runs[0]
    assert set(RUNS.names) - ADDED_LATER <= set(r), set(RUNS.names) - set(r)
    assert r["status"] == "ok" and not r["judge_failed"] and r["error"] == ""
    subs = [r[k] for k in ("accuracy", "completeness", "coherence", "actionability")]
    assert all(1 <= s <= 4 for s in [*subs, r["mission_score"]])
    assert 0.25 <= r["quality"] <= 1.0 and r["quality"] == sum(subs) / 16
    assert 0.25 <= r["mission_relevance"] <= 1.0
    assert 0.0 <= r["role_duplication"] <= 1.0 and 0.0 <= r["role_gini"] < 1.0
    assert r["n_active"] == n
    assert r["llm_calls"] == expected_calls(name, n, r)
    assert r["rounds"] == SPEC[name].rounds(n, params_of(name))
    assert r["judge_calls"] in (1, 2) and r["judge_prompt_tokens"] > 0  # 2: judge re-asked
    assert r["prompt_tokens"] > 0 and r["completion_tokens"] > 0

    agents = [a for a in rows.agents if a["agent"] >= 0]
    assert sorted(a["agent"] for a in agents) == list(range(n))
    assert all(set(AGENTS.names) - ADDED_LATER <= set(a) for a in rows.agents)
    part = [a for a in agents if a["participate"]]
    invalid = sum(a["abstain_reason"] == "invalid_output" for a in agents)
    assert r["n_participating"] == len(part)
    assert len(part) + r["n_abstained_voluntary"] + r["n_excluded"] + invalid == n
    assert r["n_unique_roles"] == len({a["role_norm"] for a in part}) <= max(len(part), 0)
    if part:
        coord = 1 if any(a["agent"] < 0 and a["participate"] for a in rows.agents) else 0
        assert 1 <= r["hierarchy_depth"] <= len(part) + coord
        assert r["deliverable_chars"] > 0
    else:
        assert r["hierarchy_depth"] == 0
    for a in rows.agents:
        assert a["role_norm"] == normalise_role(a["role"])
        assert a["participate"] == (a["abstain_reason"] == "")
        assert (a["contribution_chars"] > 0) == a["participate"] or a["agent"] < 0
        assert a["agent"] not in a["builds_on"]
        assert set(a["builds_on"]) <= set(range(n)) | {-1}
        assert 1 <= a["round"] <= r["rounds"]
    assert sum(a["calls"] for a in rows.agents) == r["llm_calls"]
    assert sum(a["repairs"] for a in rows.agents) == r["repair_calls"]
    deliverables = [t for t in rows.transcripts if t["agent"] == DELIVERABLE]
    assert len(deliverables) == 1
    assert all(set(TRANSCRIPTS.names) - ADDED_LATER <= set(t) for t in rows.transcripts)
    return r


# ---- the tests ---------------------------------------------------------------------------------


def test_every_protocol_is_specified_and_configured() -> None:
    assert set(SPEC) == set(PROTOCOLS), "add the new protocol's row of the table to SPEC"
    assert set(VISIBILITY) == set(PROTOCOLS), "add the new protocol's visibility to VISIBILITY"
    config = (CONF / "config.yaml").read_text()
    for name, entry in PROTOCOLS.items():
        assert f"protocol@protocols.{name}: {name}" in config
        conf = yaml.safe_load((CONF / "protocol" / f"{name}.yaml").read_text())
        assert conf["name"] == name
        assert make_params(name, conf["params"] or {}) == entry.params()
        assert dataclasses.is_dataclass(entry.params)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(entry.params(), "x", 1)  # noqa: B010
        table = SPEC[name].calls
        for n in (1, 4, 64):
            if table is None:
                assert entry.calls(n, entry.params()) == n + 1  # the upper bound
            else:
                assert entry.calls(n, entry.params()) == table(n, entry.params())


@pytest.mark.parametrize("name", NAMES)
def test_every_param_key_is_commented(name: str) -> None:
    lines = (CONF / "protocol" / f"{name}.yaml").read_text().splitlines()
    assert lines[0].startswith("#")
    keys = [i for i, line in enumerate(lines) if re.match(r"^  \w+:", line)]
    for i in keys:
        assert "#" in lines[i] or lines[i - 1].lstrip().startswith("#"), lines[i]


@pytest.mark.parametrize("n", [1, 4, 13])
@pytest.mark.parametrize("name", NAMES)
def test_calls_rounds_and_metrics(name: str, n: int) -> None:
    rec = Recorder()
    rows = run(make_spec(name, n, store_prompts=False), rec)
    r = check_rows(name, n, rows)
    purposes = Counter(c.purpose for c in rec.calls)
    assert len(rec.agent_calls()) == r["llm_calls"]
    assert purposes["judge"] == r["judge_calls"] == 1
    assert purposes["repair"] == r["repair_calls"] == 0
    assert all(c.model == MODEL.name for c in rec.calls if c.purpose != "judge")


N256_SECONDS: dict[str, float] = {}


@pytest.mark.parametrize("name", NAMES)
def test_n256(name: str) -> None:
    t0 = time.perf_counter()
    rows = run(make_spec(name, 256, store_prompts=False))
    N256_SECONDS[name] = time.perf_counter() - t0
    check_rows(name, 256, rows)
    assert N256_SECONDS[name] < 10, f"{name} at N=256 took {N256_SECONDS[name]:.1f}s"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name: str) -> None:
    a, b = (run(make_spec(name, 6)) for _ in range(2))
    volatile = {"wall_s", "finished_at"}
    for table in ("runs", "agents", "transcripts"):
        rows_a, rows_b = getattr(a, table), getattr(b, table)
        assert [{k: v for k, v in x.items() if k not in volatile} for x in rows_a] == [
            {k: v for k, v in x.items() if k not in volatile} for x in rows_b
        ]
    other = run(dataclasses.replace(make_spec(name, 6), seed=1))
    assert [t["text"] for t in other.transcripts] != [t["text"] for t in a.transcripts]


@pytest.mark.parametrize("name", NAMES)
def test_parse_errors_repair_once_then_abstain(name: str) -> None:
    n = 6
    rec = Breaker(first=frozenset({0, 2}), always=frozenset({1}))
    rows = run(make_spec(name, n), rec)
    r = rows.runs[0]
    by_agent = {a["agent"]: a for a in rows.agents}
    made = Counter(c.agent for c in rec.agent_calls())
    assert r["repair_calls"] == made[0] + made[1] + made[2]
    assert r["llm_calls"] == sum(made.values()) == expected_calls(name, n, r)
    assert r["n_parse_errors"] == made[1]
    repairs = [c for c in rec.calls if c.purpose == "repair"]
    assert {c.agent for c in repairs} <= {0, 1, 2}
    assert all("Your reply could not be used" in c.text for c in repairs)
    if made[1]:
        assert by_agent[1]["parse_error"] and by_agent[1]["abstain_reason"] == "invalid_output"
        assert not by_agent[1]["participate"] and by_agent[1]["repairs"] == made[1]
        errors = [t for t in rows.transcripts if t["agent"] == 1]
        assert errors and all(t["error"] and t["kind"] != "deliverable" for t in errors)
    else:  # only the coordinator may leave a worker without a call
        assert by_agent[1]["abstain_reason"] == "excluded_by_coordinator"
    for a in (0, 2):
        assert not by_agent[a]["parse_error"]
        assert by_agent[a]["abstain_reason"] != "invalid_output"
    assert r["status"] == "ok" and 0.25 <= r["quality"] <= 1.0


@pytest.mark.parametrize("name", NAMES)
def test_sim_invalid_output_rate_goes_through_repair(name: str) -> None:
    broken = SimBackend(SimOptions(invalid_output_rate=0.5))
    rows = run(make_spec(name, 12, store_prompts=False), broken)
    r = check_rows(name, 12, rows)
    assert r["repair_calls"] > 0 and r["n_parse_errors"] == 0


@pytest.mark.parametrize("name", [n for n in NAMES if PROTOCOLS[n].fixed_roles_allowed])
def test_fixed_roles_hold_for_every_turn(name: str) -> None:
    rows = run(make_spec(name, 7, roles="fixed"))
    cat = role_catalogue(TASKS[0].domains[0])
    for a in rows.agents:
        assert a["role"] == cat[a["agent"] % len(cat)]
    turns = [t for t in rows.transcripts if t["kind"] in ("turn", "intention")]
    assert turns
    for t in turns:
        assert t["role"] == cat[t["agent"] % len(cat)]
        assert f"Your role is fixed: {cat[t['agent'] % len(cat)]}. Keep it." in t["prompt"]


def test_only_the_coordinator_refuses_fixed_roles() -> None:
    assert [n for n in NAMES if not PROTOCOLS[n].fixed_roles_allowed] == ["coordinator"]


# ---- visibility: which peer outputs each prompt showed -------------------------------------------

Seen = set[tuple[int, int]]
Expect = Callable[[Call, "Episode"], Seen]


@dataclass
class Episode:
    n: int
    calls: list[Call]
    transcripts: list[dict[str, Any]]

    def acted(self, round_: int | None = None, *, participated: bool = False) -> Seen:
        """(agent, k) of every parsed turn (of ``round_``), optionally only participating ones."""
        out: Seen = set()
        count: Counter[int] = Counter()
        for t in sorted(self.transcripts, key=lambda t: (t["round"], t["agent"])):
            if t["kind"] == "deliverable":
                continue
            count[t["agent"]] += 1
            ok = not t["error"] and (t["participate"] or not participated)
            if ok and (round_ is None or t["round"] == round_):
                out.add((t["agent"], count[t["agent"]]))
        return out


def _ring(n: int, k: int) -> Callable[[int], set[int]]:
    return lambda a: {(a + d) % n for d in range(-k, k + 1) if d} - {a}


def _wave_of(n: int, g: int) -> dict[int, int]:
    out, start = {}, 0
    for w, size in enumerate(_waves(n, g)):
        out.update({a: w for a in range(start, start + size)})
        start += size
    return out


def _seeds(n: int) -> set[int]:
    return set(range(math.ceil(math.sqrt(n))))


VISIBILITY: dict[str, Expect] = {
    # workers see the coordinator's plan only; the coordinator sees no one
    "coordinator": lambda c, e: set() if c.agent == -1 else {(-1, 1)},
    # agent i sees exactly agents 0..i-1
    "sequential": lambda c, e: {(j, 1) for j in range(c.agent)},
    # round 1 nobody; round 2 every agent's round-1 intention (and nothing of round 2)
    "broadcast": lambda c, e: set() if c.k == 1 else e.acted(1),
    # no peer of the current step
    "shared": lambda c, e: set(),
    # every agent of an earlier wave (g = 2), none of the own wave
    "ripple": lambda c, e: {
        (j, 1) for j, w in _wave_of(e.n, 2).items() if w < _wave_of(e.n, 2)[c.agent]
    },
    # the traces (participating turns) of every earlier round, own trace included
    "stigmergic": lambda c, e: {(a, k) for a, k in e.acted(participated=True) if k < c.k},
    # round 1 nobody; round 2 only the ring neighbours' (k = 2 each side) round-1 intentions
    "morphogenetic": lambda c, e: (
        set() if c.k == 1 else {(j, 1) for j in _ring(e.n, 2)(c.agent)} & e.acted(1)
    ),
    # seeds see nobody; the others see exactly the seeds that proposed
    "clonal": lambda c, e: (
        set()
        if c.agent in _seeds(e.n)
        else {(s, 1) for s in _seeds(e.n)} & e.acted(1, participated=True)
    ),
}


@pytest.mark.parametrize("n", [8, 11])
@pytest.mark.parametrize("name", NAMES)
def test_visibility_of_peers_in_prompts(name: str, n: int) -> None:
    rec = Recorder(stamp=True)
    rows = run(make_spec(name, n), rec)
    ep = Episode(n, rec.agent_calls(), rows.transcripts)
    assert ep.calls
    for c in ep.calls:
        assert c.seen == VISIBILITY[name](c, ep), f"{name}: agent {c.agent} call {c.k}"
    # the stored prompt is exactly what the agent received
    stored = {(t["agent"], t["round"], t["kind"]): t["prompt"] for t in rows.transcripts}
    prompts = {c.text for c in ep.calls}
    assert all(p in prompts for k, p in stored.items() if k[0] != DELIVERABLE)
