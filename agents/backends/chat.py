"""The backend contract: chat messages in, text out (docs/design/sim.md rule 1 holds for every
backend)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.catalogue import ModelSpec


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: ModelSpec
    messages: tuple[Message, ...]
    temperature: float
    max_tokens: int
    seed: int
    schema_name: str = ""  # which output schema the caller expects ("agent_turn", "judge", ...)
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    purpose: str = "agent"  # "agent" | "coordinator" | "judge" | "repair": for accounting
    # Calls with one key share a prompt prefix (orgsweep: the episode id); a client of several
    # endpoints keeps them on one (agents/backends/affinity.py). Never sent to the server.
    affinity: str = field(default="", compare=False)


@dataclass(frozen=True)
class ChatResponse:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" | "length"
    latency_s: float = 0.0
    # Provenance (docs/design/inference.md): the model id the server reports serving ("" when
    # it sent none; the sim's is "sim:<name>"), its system_fingerprint where it sends one, and
    # whether the token counts are ``estimate_tokens`` guesses because it sent no usage.
    served_model: str = ""
    fingerprint: str = ""
    tokens_estimated: bool = False


class InfraError(Exception):
    """A failure of the serving infrastructure (timeout, 429, 5xx, lost connection).

    Retried by the executor with backoff; never recorded as a model-output problem.
    """

    kind = "infra"

    def __init__(self, message: str, *, kind: str = "infra", retry_after_s: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after_s = retry_after_s


class SetupError(RuntimeError):
    """The environment cannot provide this backend (a missing package, models that failed to
    deploy): reported to the user as one message, not retried episode by episode."""


class Backend(Protocol):
    """What protocols need from an LLM server. Implementations live in ``agents/backends/``."""

    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...


SIM_SERVED = "sim:"
"""Prefix of the served model id the sim reports (``sim:<registry name>``)."""


def served_elsewhere(model: ModelSpec, served: str) -> bool:
    """True when a server reports serving something other than ``model`` (its registry name,
    Hugging Face id or gateway name, or the sim's ``sim:<name>``); an empty id says nothing."""
    return bool(served) and served not in (model.name, model.hf_id, SIM_SERVED + model.name)


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate (about 4 characters per token) for sim and budgets."""
    return max(1, (len(text) + 3) // 4)
