"""The step runtime: what a protocol uses to let one agent act, and what it records.

A protocol decides *who sees what and when*; this module makes the call (prompt, backend, parse,
one repair re-ask, abstention on invalid output) and keeps the books (calls, tokens, prompts).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agents.backends.chat import Backend, ChatRequest, ChatResponse, Message
from agents.catalogue import ModelSpec
from agents.contract import (
    AGENT_TURN_SCHEMA,
    COORDINATOR_SCHEMA,
    INTENTION_SCHEMA,
    OutputError,
    ParsedTurn,
    Plan,
    parse_plan,
    parse_turn,
)
from agents.prompts import PROMPT_VERSION, agent_messages, coordinator_messages, repair_message
from agents.served import Served
from agents.tasks import Task

COORDINATOR = -1  # agent index used for the coordinator's records


@dataclass
class TurnRecord:
    """One agent's turn as the protocol saw it (the final one goes to the ``agents`` table)."""

    agent: int
    round: int
    role: str = ""
    participate: bool = False
    contribution: str = ""
    builds_on: tuple[int, ...] = ()
    invalid_refs: int = 0
    rationale: str = ""
    abstain_reason: str = ""  # "" | voluntary | excluded_by_coordinator | invalid_output | removed
    parse_error: str = ""
    kind: str = "turn"  # "turn" | "intention" | "coordinator"
    prompt: str = ""


@dataclass
class Usage:
    calls: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    served: Served = field(default_factory=Served)  # served ids, estimated token counts


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts; the same parts always give the same seed."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


@dataclass
class StepRuntime:
    backend: Backend
    task: Task
    mission: str
    n_agents: int
    agents: tuple[int, ...]  # active agents, in protocol order (shocks may remove some)
    models: Mapping[int, ModelSpec]  # model of each agent (a shock may swap some)
    coordinator_model: ModelSpec
    seed: int
    step: int
    temperature: float
    max_tokens: int
    memory: Sequence[Sequence[tuple[int, str]]] = ()
    fixed_roles: Mapping[int, str] = field(default_factory=dict)
    store_prompts: bool = False
    prompt_version: str = PROMPT_VERSION
    affinity: str = ""  # ChatRequest.affinity of every call (the episode id)
    usage: dict[int, Usage] = field(default_factory=lambda: defaultdict(Usage))
    transcript: list[TurnRecord] = field(default_factory=list)

    async def turn(
        self,
        agent: int,
        round: int,
        *,
        visible: str,
        visible_agents: frozenset[int] | set[int] = frozenset(),
        instructions: str,
        own: str = "",
        intention: bool = False,
        must_participate: bool = False,
        role: str | None = None,
    ) -> TurnRecord:
        """Let ``agent`` act once, seeing ``visible`` (shown to the whole round) and ``own``
        (shown to it alone); returns its parsed (or abstained) turn."""
        fixed = role or self.fixed_roles.get(agent)
        messages = agent_messages(
            agent=agent,
            n_agents=self.n_agents,
            mission=self.mission,
            task=self.task,
            visible=visible,
            instructions=instructions,
            own=own,
            fixed_role=fixed,
            intention=intention,
            version=self.prompt_version,
        )
        schema = INTENTION_SCHEMA if intention else AGENT_TURN_SCHEMA
        name = "intention" if intention else "agent_turn"
        rec = TurnRecord(agent, round, kind="intention" if intention else "turn")
        if self.store_prompts:
            rec.prompt = "\n\n".join(m.content for m in messages)
        try:
            parsed = await self._call_parsed(
                agent,
                self.models[agent],
                messages,
                name,
                schema,
                round,
                lambda text: parse_turn(
                    text, intention=intention, must_participate=must_participate
                ),
            )
        except OutputError as e:
            rec.parse_error = str(e)
            rec.abstain_reason = "invalid_output"
            self.transcript.append(rec)
            return rec
        _fill(rec, parsed, visible_agents, fixed, must_participate)
        self.transcript.append(rec)
        return rec

    async def coordinate(self, workers: Sequence[int]) -> tuple[Plan | None, TurnRecord]:
        """The coordinator's one call; ``None`` plan when its output stays invalid."""
        messages = coordinator_messages(
            n_workers=len(workers),
            mission=self.mission,
            task=self.task,
            version=self.prompt_version,
        )
        rec = TurnRecord(COORDINATOR, 1, role="Coordinator", participate=True, kind="coordinator")
        if self.store_prompts:
            rec.prompt = "\n\n".join(m.content for m in messages)
        try:
            plan = await self._call_parsed(
                COORDINATOR,
                self.coordinator_model,
                messages,
                "coordinator_plan",
                COORDINATOR_SCHEMA,
                1,
                lambda text: parse_plan(text, len(workers)),
            )
        except OutputError as e:
            rec.parse_error = str(e)
            rec.participate = False
            rec.abstain_reason = "invalid_output"
            self.transcript.append(rec)
            return None, rec
        rec.contribution = plan.plan
        self.transcript.append(rec)
        return plan, rec

    async def _call_parsed(self, agent, model, messages, name, schema, round, parse):
        seed = derive_seed(self.seed, self.step, round, agent)
        reply = await self._chat(agent, model, messages, name, schema, seed, "agent")
        try:
            if reply.finish_reason == "length":
                raise OutputError("the reply was cut off at the token limit; answer shorter")
            return parse(reply.text)
        except OutputError as first:
            retry = (*messages, Message("assistant", reply.text), repair_message(str(first)))
            self.usage[agent].repairs += 1
            reply = await self._chat(agent, model, retry, name, schema, seed + 1, "repair")
            if reply.finish_reason == "length":
                raise OutputError(f"{first}; repair also cut off") from None
            return parse(reply.text)

    async def _chat(
        self,
        agent: int,
        model: ModelSpec,
        messages: tuple[Message, ...],
        name: str,
        schema: dict,
        seed: int,
        purpose: str,
    ) -> ChatResponse:
        req = ChatRequest(
            model,
            messages,
            self.temperature,
            self.max_tokens,
            seed,
            name,
            schema,
            purpose,
            affinity=self.affinity,
        )
        reply = await self.backend.chat(req)
        u = self.usage[agent]
        if purpose != "repair":
            u.calls += 1
        u.prompt_tokens += reply.prompt_tokens
        u.completion_tokens += reply.completion_tokens
        u.latency_s += reply.latency_s
        u.served.add(model, reply)
        return reply


def _fill(
    rec: TurnRecord,
    parsed: ParsedTurn,
    visible_agents: frozenset[int] | set[int],
    fixed: str | None,
    must_participate: bool,
) -> None:
    rec.role = fixed or parsed.role
    rec.participate = parsed.participate or must_participate
    rec.contribution = parsed.contribution
    rec.rationale = parsed.rationale
    valid = tuple(dict.fromkeys(r for r in parsed.builds_on if r in visible_agents))
    rec.builds_on = valid
    rec.invalid_refs = len(parsed.builds_on) - len(valid)
    if not rec.participate:
        rec.abstain_reason = "voluntary"
        rec.contribution = ""
