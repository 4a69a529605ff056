"""The sim behind an OpenAI-compatible route: turn a posted chat body back into the
``ChatRequest`` that ``agents.backends.sim.respond`` answers. Used by the fake servers of the
tests (``tests/fake_openai_server.py``) and of the saturation benchmark (``bench/sim_server.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agents.backends.chat import ChatRequest, Message
from agents.catalogue import ModelSpec


def catalogue() -> dict[str, ModelSpec]:
    """The packaged model catalogue keyed by both ``hf_id`` and registry name (a route may be
    addressed either way: ``backend.model_name_from``)."""
    from sweep.config import build, compose

    typed, _ = build(compose())
    out = {m.hf_id: m for m in typed.models.values()}
    out.update(typed.models)
    return out


def guess_schema(messages: tuple[Message, ...]) -> str:
    """The schema name a prompt asks for, for requests sent without ``response_format``."""
    system = messages[0].content if messages else ""
    first_user = next((m.content for m in messages if m.role == "user"), "")
    if "impartial expert judge" in system:
        return "judge"
    if system.startswith("You are the coordinator"):
        return "coordinator_plan"
    if '"rationale": str (name the requirements' in first_user:
        return "intention"
    return "agent_turn"


def chat_request(body: Mapping[str, Any], model: ModelSpec) -> ChatRequest:
    """The ``ChatRequest`` a posted ``/v1/chat/completions`` body came from."""
    messages = tuple(Message(m["role"], m["content"]) for m in body.get("messages", []))
    fmt = body.get("response_format") or {}
    schema_name = (fmt.get("json_schema") or {}).get("name") or guess_schema(messages)
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens") or 1024
    return ChatRequest(
        model=model,
        messages=messages,
        temperature=float(body.get("temperature", 0.7)),
        max_tokens=int(max_tokens),
        seed=int(body.get("seed") or 0),
        schema_name=schema_name,
    )


def completion(
    reply_id: str, model: Any, text: str, finish: str, usage: tuple[int, int] | None
) -> dict[str, Any]:
    """A ``chat.completion`` body carrying ``text``; ``usage`` = (prompt, completion) tokens,
    or None to leave it out (as some servers do)."""
    out: dict[str, Any] = {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
    }
    if usage is not None:
        prompt, done = usage
        out["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        }
    return out
