"""The agent contract of docs/design/protocols.md section 2: output schemas, parsing, role
normalisation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ROLE_MAX_CHARS = 60
# Bounds for guided decoding (JSON schema). Generous for real models (about max_tokens=1024 of
# text); they stop a small model that loops inside a string or a list from running to the token
# limit. Strict mode (hosted OpenAI) needs every property in "required", so all are.
TEXT_MAX_CHARS = 4000  # contribution, coordinator plan
NOTE_MAX_CHARS = 1000  # rationale, focus
BUILDS_ON_MAX_ITEMS = 64
MAX_AGENTS = 4096  # the largest n_agents a sweep block may ask for (sweep/config.py)


def _record(**properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema object of ``properties``, every one required (strict mode), no others."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _text(max_chars: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_chars}


_FLAG = {"type": "boolean"}
_NUMBER = {"type": "integer"}

AGENT_TURN_SCHEMA: dict[str, Any] = _record(
    role=_text(ROLE_MAX_CHARS),
    participate=_FLAG,
    contribution=_text(TEXT_MAX_CHARS),
    builds_on={"type": "array", "items": _NUMBER, "maxItems": BUILDS_ON_MAX_ITEMS},
    rationale=_text(NOTE_MAX_CHARS),
)

INTENTION_SCHEMA: dict[str, Any] = _record(
    role=_text(ROLE_MAX_CHARS), participate=_FLAG, rationale=_text(NOTE_MAX_CHARS)
)

COORDINATOR_SCHEMA: dict[str, Any] = _record(
    plan=_text(TEXT_MAX_CHARS),
    assignments={
        "type": "array",
        "maxItems": MAX_AGENTS,
        "items": _record(
            agent=_NUMBER,
            role=_text(ROLE_MAX_CHARS),
            phase=_NUMBER,
            include=_FLAG,
            focus=_text(NOTE_MAX_CHARS),
        ),
    },
)


class OutputError(ValueError):
    """A model reply that does not satisfy its schema; the message is shown to the model."""


@dataclass(frozen=True)
class ParsedTurn:
    """An agent's reply (``AGENT_TURN_SCHEMA``), validated."""

    role: str
    participate: bool
    contribution: str
    builds_on: tuple[int, ...]
    rationale: str


@dataclass(frozen=True)
class Assignment:
    """One worker's line of a coordinator's plan (``COORDINATOR_SCHEMA``)."""

    agent: int
    role: str
    phase: int
    include: bool
    focus: str = ""


@dataclass(frozen=True)
class Plan:
    plan: str
    assignments: tuple[Assignment, ...]


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalise_role(role: str) -> str:
    """Case-fold, strip punctuation, collapse spaces: the form roles are counted in."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", role.casefold())).strip()


def extract_json(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (models wrap JSON in prose or code fences)."""
    start = text.find("{")
    if start < 0:
        raise OutputError("no JSON object found; reply with exactly one JSON object")
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as e:
        raise OutputError(f"invalid JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(obj, dict):
        raise OutputError("the reply must be a JSON object")
    return obj


def _field(obj: dict[str, Any], key: str, typ: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise OutputError(f"missing field {key!r}")
    value = obj[key]
    if typ is int and isinstance(value, bool):
        raise OutputError(f"field {key!r} must be an integer")
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise OutputError(f"field {key!r} must be of type {names}")
    return value


def parse_turn(text: str, *, intention: bool = False, must_participate: bool = False) -> ParsedTurn:
    """Parse an agent turn (or a broadcast round-1 intention). ``must_participate`` (a
    coordinator's worker): the turn counts as participating whatever it says, so an empty
    contribution is invalid output (repaired, then an ``invalid_output`` abstention)."""
    obj = extract_json(text)
    role = str(_field(obj, "role", str)).strip()[:ROLE_MAX_CHARS].strip()
    participate = bool(_field(obj, "participate", bool)) or must_participate
    rationale = str(_field(obj, "rationale", str))
    if intention:
        return ParsedTurn(role, participate, "", (), rationale)
    contribution = str(_field(obj, "contribution", str))
    refs = _field(obj, "builds_on", list)
    if any(isinstance(r, bool) or not isinstance(r, int) for r in refs):
        raise OutputError("field 'builds_on' must be a list of integers")
    if participate and not role:
        raise OutputError("field 'role' must not be empty when participating")
    if participate and not contribution.strip():
        raise OutputError("field 'contribution' must not be empty when participating")
    return ParsedTurn(
        role, participate, contribution if participate else "", tuple(refs), rationale
    )


def parse_plan(text: str, n_workers: int) -> Plan:
    """Parse a coordinator plan; assignments to unknown workers are an error."""
    obj = extract_json(text)
    plan = str(_field(obj, "plan", str))
    out: list[Assignment] = []
    seen: set[int] = set()
    for i, a in enumerate(_field(obj, "assignments", list)):
        if not isinstance(a, dict):
            raise OutputError(f"assignments[{i}] must be an object")
        agent = _field(a, "agent", int)
        if not 0 <= agent < n_workers:
            raise OutputError(
                f"assignments[{i}].agent={agent} is not a worker (0..{n_workers - 1})"
            )
        if agent in seen:
            raise OutputError(f"worker {agent} is assigned twice")
        seen.add(agent)
        role = str(_field(a, "role", str)).strip()[:ROLE_MAX_CHARS]
        out.append(
            Assignment(
                agent,
                role,
                int(_field(a, "phase", int)),
                bool(_field(a, "include", bool)),
                str(a.get("focus", "")),
            )
        )
    return Plan(plan, tuple(sorted(out, key=lambda a: a.agent)))
