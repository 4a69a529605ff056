"""The ``openai`` backend: any OpenAI-compatible chat endpoint through the official client.

Retries live here, not in the client (its own ``max_retries`` is 0), so they are testable and
share the admission windows: 429 (honouring ``Retry-After``), 408/409/5xx, timeouts and lost
connections are retried with exponential backoff and jitter, then raised as ``InfraError`` so the
executor retries the episode. A cut-off (``finish_reason=length``) or malformed reply is returned
as is: the runtime's repair path owns it. The API key is read from the environment variable the
config names and is kept out of reprs, logs and error messages.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import math
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from agents.backends.admission import AdmissionWindow, Signal
from agents.backends.base import ChatRequest, ChatResponse, InfraError, estimate_tokens
from agents.models import ModelSpec

log = logging.getLogger("orgsweep.backend.openai")

NO_KEY = "EMPTY"  # what local servers get when ``api_key_env`` is null (vLLM's convention)
MODEL_NAME_FROM = ("hf_id", "name")
BALANCE = ("least_in_flight", "round_robin")
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")


class BackendConfigError(ValueError):
    """Bad backend options; ``problems`` lists every one (each names its key)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class BackendRequestError(RuntimeError):
    """The server refused the request itself (400, 401, 404, ...): retrying will not help."""


@dataclass
class _Endpoint:
    url: str
    client: Any = None  # AsyncOpenAI, created on first use inside the running event loop
    windows: dict[str, AdmissionWindow] = field(default_factory=dict)


class OpenAIBackend:
    """Options: see ``conf/backend/openai.yaml`` (one comment per key)."""

    def __init__(
        self,
        base_url: str | Sequence[str] = "http://127.0.0.1:8000/v1",
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 4,
        structured_output: bool = True,
        strict_schema: bool = True,
        model_name_from: str = "hf_id",
        balance: str = "least_in_flight",
        max_in_flight: int | None = None,
        replicas: int | None = None,
        n_clients: int = 1,
        backoff_s: float = 1.0,
        backoff_max_s: float = 60.0,
        max_tokens_field: str = "max_tokens",
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        problems = _check(urls, api_key_env, timeout_s, max_retries, model_name_from, balance,
                          max_in_flight, replicas, n_clients, backoff_s, backoff_max_s,
                          max_tokens_field)
        if problems:
            raise BackendConfigError(problems)
        self._key = os.environ[api_key_env] if api_key_env else NO_KEY
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.structured_output = bool(structured_output)
        self.strict_schema = bool(strict_schema)
        self.model_name_from = model_name_from
        self.balance = balance
        self.max_in_flight = max_in_flight
        self.replicas = replicas
        self.n_clients = int(n_clients)
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.max_tokens_field = max_tokens_field
        self.endpoints = [_Endpoint(u.rstrip("/")) for u in urls]
        self._turn = itertools.count()
        self._rng = random.Random()

    def __repr__(self) -> str:  # never the key
        urls = [e.url for e in self.endpoints]
        return f"OpenAIBackend(base_url={urls}, api_key_env={self.api_key_env!r})"

    # ---- the contract -------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = self.request_body(request)
        error: InfraError | None = None
        for attempt in range(self.max_retries + 1):
            if error is not None:
                await asyncio.sleep(self._delay(attempt, error.retry_after_s))
            ep = self._pick(request.model)
            window = self._window(ep, request.model)
            slot = await window.acquire()
            signal = Signal.NEUTRAL
            t0 = time.perf_counter()
            try:
                completion = await self._client(ep).chat.completions.create(**body)
                signal = Signal.OK
            except openai.APIStatusError as e:
                signal = Signal.OVERLOAD if e.status_code in (429, 503) else Signal.NEUTRAL
                failure = self._status_error(e, ep)
            except openai.APITimeoutError:
                failure = InfraError(f"timeout after {self.timeout_s:g} s from {ep.url}", kind="timeout")
            except openai.APIConnectionError as e:
                failure = InfraError(f"connection to {ep.url} failed: {e}", kind="connection")
            except (openai.APIResponseValidationError, json.JSONDecodeError) as e:
                failure = InfraError(f"unreadable response from {ep.url}: {e}", kind="server_error")
            finally:
                window.release(slot, signal)
            if signal is Signal.OK:
                return _response(request, completion, time.perf_counter() - t0)
            # Raised here, outside the except blocks, so no chained exception carries the
            # request (and its Authorization header) along.
            if not isinstance(failure, InfraError):
                raise failure
            error = failure
            log.debug("retryable %s (attempt %d): %s", error.kind, attempt + 1, error)
        assert error is not None
        raise InfraError(
            self._scrub(f"{error} (gave up after {self.max_retries + 1} attempts)"),
            kind=error.kind,
            retry_after_s=error.retry_after_s,
        )

    async def aclose(self) -> None:
        for ep in self.endpoints:
            if ep.client is not None:
                await ep.client.close()
                ep.client = None

    # ---- requests -----------------------------------------------------------------------

    def model_name(self, model: ModelSpec) -> str:
        return model.hf_id if self.model_name_from == "hf_id" else model.name

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for one request."""
        body: dict[str, Any] = {
            "model": self.model_name(request.model),
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            self.max_tokens_field: request.max_tokens,
            "seed": request.seed,
        }
        if self.structured_output and request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name or "response",
                    "schema": request.schema,
                    "strict": self.strict_schema,
                },
            }
        return body

    def admission_limit(self, model: ModelSpec) -> int:
        """Requests this client keeps in flight to one endpoint for ``model``."""
        bound = self.max_in_flight or (self.replicas or model.replicas) * model.max_num_seqs
        return max(1, math.ceil(bound / self.n_clients))

    def _window(self, ep: _Endpoint, model: ModelSpec) -> AdmissionWindow:
        w = ep.windows.get(model.name)
        if w is None:
            w = ep.windows[model.name] = AdmissionWindow(self.admission_limit(model))
        return w

    def _pick(self, model: ModelSpec) -> _Endpoint:
        turn = next(self._turn)
        n = len(self.endpoints)
        if self.balance == "round_robin" or n == 1:
            return self.endpoints[turn % n]
        order = [self.endpoints[(turn + i) % n] for i in range(n)]  # rotate to break ties
        return min(order, key=lambda ep: self._window(ep, model).load)

    def _client(self, ep: _Endpoint) -> Any:
        if ep.client is None:
            ep.client = openai.AsyncOpenAI(
                api_key=self._key, base_url=ep.url, timeout=self.timeout_s, max_retries=0
            )
        return ep.client

    # ---- failures -----------------------------------------------------------------------

    def _status_error(self, e: openai.APIStatusError, ep: _Endpoint) -> Exception:
        """An ``InfraError`` to retry, or a ``BackendRequestError`` that retrying cannot fix."""
        status = e.status_code
        detail = self._scrub(_detail(e))
        if status == 429:
            kind = "rate_limited"
        elif status == 408:
            kind = "timeout"
        elif status == 409 or status >= 500:
            kind = "server_error"
        else:
            return BackendRequestError(f"HTTP {status} from {ep.url}: {detail}")
        return InfraError(
            f"HTTP {status} from {ep.url}: {detail}", kind=kind, retry_after_s=_retry_after(e)
        )

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After is the minimum."""
        expo = self.backoff_s * 2 ** (attempt - 1) * self._rng.uniform(0.5, 1.0)
        return min(self.backoff_max_s, max(expo, retry_after_s or 0.0))

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key != NO_KEY else text


def _response(request: ChatRequest, completion: Any, latency_s: float) -> ChatResponse:
    choice = completion.choices[0] if completion.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    finish = (choice.finish_reason if choice is not None else None) or "stop"
    usage = completion.usage
    if usage is not None and usage.prompt_tokens is not None:
        ptok, ctok = int(usage.prompt_tokens), int(usage.completion_tokens or 0)
    else:  # the server sent no usage: estimate, as the sim does
        ptok = sum(estimate_tokens(m.content) for m in request.messages)
        ctok = estimate_tokens(text) if text else 0
    return ChatResponse(text, ptok, ctok, str(finish), latency_s)


def _detail(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        msg = body.get("message") or (body.get("error") or {}).get("message")
        if msg:
            return str(msg)[:300]
    return str(e.message)[:300]


def _retry_after(e: openai.APIStatusError) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds; HTTP dates are ignored)."""
    headers = e.response.headers
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _check(
    urls: list[Any],
    api_key_env: str | None,
    timeout_s: float,
    max_retries: int,
    model_name_from: str,
    balance: str,
    max_in_flight: int | None,
    replicas: int | None,
    n_clients: int,
    backoff_s: float,
    backoff_max_s: float,
    max_tokens_field: str,
) -> list[str]:
    p: list[str] = []
    if not urls:
        p.append("backend.base_url: give one URL or a list of URLs")
    for u in urls:
        if not isinstance(u, str) or not u.startswith(("http://", "https://")):
            p.append(f"backend.base_url={u!r}: must start with http:// or https://")
    if api_key_env is not None and not os.environ.get(api_key_env):
        p.append(
            f"backend.api_key_env={api_key_env}: the environment variable {api_key_env} is not "
            "set; export it (the key is read from there and never stored), or set "
            "backend.api_key_env=null for a local server that needs no key"
        )
    for key, value, low in (("timeout_s", timeout_s, 0), ("backoff_s", backoff_s, 0),
                            ("backoff_max_s", backoff_max_s, 0)):
        if not isinstance(value, int | float) or value < low:
            p.append(f"backend.{key}={value!r}: must be a number >= {low}")
    for key, ivalue, ilow in (("max_retries", max_retries, 0), ("n_clients", n_clients, 1),
                              ("max_in_flight", max_in_flight, 1), ("replicas", replicas, 1)):
        if ivalue is not None and (not isinstance(ivalue, int) or ivalue < ilow):
            p.append(f"backend.{key}={ivalue!r}: must be a whole number >= {ilow}")
    for key, svalue, valid in (("model_name_from", model_name_from, MODEL_NAME_FROM),
                               ("balance", balance, BALANCE),
                               ("max_tokens_field", max_tokens_field, MAX_TOKENS_FIELDS)):
        if svalue not in valid:
            p.append(f"backend.{key}={svalue!r}; valid: {', '.join(valid)}")
    return p


def check_options(options: Mapping[str, Any]) -> list[str]:
    """Every problem with ``backend=openai`` options (empty when they are valid)."""
    return _check_with(OpenAIBackend, options)


def _check_with(factory: Any, options: Mapping[str, Any]) -> list[str]:
    params = set(inspect.signature(factory).parameters)
    unknown = sorted(set(options) - params)
    if unknown:
        return [f"backend: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(params))}"]
    try:
        factory(**dict(options))
    except BackendConfigError as e:
        return e.problems
    return []
