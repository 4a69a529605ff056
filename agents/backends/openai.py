"""The ``openai`` backend: any OpenAI-compatible chat endpoint through the official client.

Retries live here, not in the client (its own ``max_retries`` is 0), so they are testable and
share the admission windows: 429 (honouring ``Retry-After``), 408/409/5xx, timeouts and lost
connections are retried with exponential backoff and jitter, then raised as ``InfraError`` so the
executor retries the episode. A cut-off (``finish_reason=length``) or malformed reply is returned
as is: the runtime's repair path owns it. ``timeout_s`` is a total deadline per request (connect,
headers and the whole body: a server that drips one byte at a time still times out), and
``max_response_bytes`` bounds each body (``bounded_http``), so memory stays bounded whatever a
server sends. The API key is read from the environment variable the
config names and is kept out of reprs, logs and error messages.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from agents.backends.admission import AdmissionWindow, Signal
from agents.backends.affinity import choose, prefix_key
from agents.backends.bounded_http import ResponseTooLarge, bounded_client
from agents.backends.chat import (
    ChatRequest,
    ChatResponse,
    InfraError,
    SetupError,
    estimate_tokens,
)
from agents.backends.options import NO_KEY, ClientOptions, Runtime
from agents.backends.setup import RunnerSetup, slots
from agents.catalogue import ModelSpec

log = logging.getLogger("orgsweep.backend.openai")


class BackendRequestError(SetupError):
    """The server refused the request itself (400, 401, 404, ...): retrying will not help.

    A ``SetupError``: where it stops a command (``rescore`` against a wrong key), the CLI prints
    its one-line message; in a launch it fails the episode like any other error."""


@dataclass
class _Endpoint:
    url: str
    client: Any = None  # AsyncOpenAI, created on first use inside the running event loop
    windows: dict[str, AdmissionWindow] = field(default_factory=dict)


class OpenAIBackend:
    """Options: ``ClientOptions`` (each field commented in conf/backend/openai.yaml)."""

    def __init__(
        self,
        options: ClientOptions,
        runtime: Runtime | None = None,
        replicas_of: Callable[[ModelSpec], int] | None = None,
    ):
        """``options``: parsed once (``agents.backends.parse_options``). ``runtime``: how many
        clients share each endpoint, when the executor knows. ``replicas_of``: the replicas
        serving a model, when the server knows better than ``ModelSpec.replicas`` (Ray
        Serve's autoscaling bounds)."""
        self.options = o = options
        self.n_clients = (runtime and runtime.n_clients) or o.n_clients
        self._replicas_of = replicas_of or (lambda model: model.replicas)
        self._key = o.api_key()  # read here, where the client runs
        self.endpoints = [_Endpoint(u.rstrip("/")) for u in o.urls]
        self._turn = itertools.count()
        self._rng = random.Random()

    def __repr__(self) -> str:  # never the key
        urls = [e.url for e in self.endpoints]
        return f"OpenAIBackend(base_url={urls}, api_key_env={self.options.api_key_env!r})"

    # ---- the contract -------------------------------------------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = self.request_body(request)
        error: InfraError | None = None
        for attempt in range(self.options.max_retries + 1):
            if error is not None:
                await asyncio.sleep(self._delay(attempt, error.retry_after_s))
            ep = self._pick(request)
            window = self._window(ep, request.model)
            slot = await window.acquire()
            signal = Signal.NEUTRAL  # also when cancelled
            t0 = time.perf_counter()
            try:
                completion, failure, signal = await self._attempt(ep, body)
            finally:
                window.release(slot, signal)
            if failure is None:
                return _response(request, completion, time.perf_counter() - t0)
            if not isinstance(failure, InfraError):
                raise failure
            error = failure
            log.debug("retryable %s (attempt %d): %s", error.kind, attempt + 1, error)
        assert error is not None
        raise InfraError(
            self._scrub(f"{error} (gave up after {self.options.max_retries + 1} attempts)"),
            kind=error.kind,
            retry_after_s=error.retry_after_s,
        )

    async def _attempt(
        self, ep: _Endpoint, body: dict[str, Any]
    ) -> tuple[Any, Exception | None, Signal]:
        """One request: ``(completion, None, OK)`` or ``(None, failure, signal)``.

        Failures are returned, not raised, so that the caller raises them outside any except
        block: no chained exception then carries the request (and its API key) along.
        """
        try:
            create = self._client(ep).chat.completions.create(**body)
            completion = await asyncio.wait_for(create, self.options.timeout_s)
        except TimeoutError:  # the whole request's deadline, not an idle-read timeout
            timeout = f"no complete response within {self.options.timeout_s:g} s from {ep.url}"
            return None, InfraError(timeout, kind="timeout"), Signal.NEUTRAL
        except openai.APIStatusError as e:
            overload = e.status_code in (429, 503)
            return None, self._status_error(e, ep), Signal.OVERLOAD if overload else Signal.NEUTRAL
        except openai.APITimeoutError:
            timeout = f"timeout after {self.options.timeout_s:g} s from {ep.url}"
            return None, InfraError(timeout, kind="timeout"), Signal.NEUTRAL
        except openai.APIConnectionError as e:
            if isinstance(e.__cause__, ResponseTooLarge):
                return None, InfraError(str(e.__cause__), kind="server_error"), Signal.NEUTRAL
            lost = f"connection to {ep.url} failed: {e}"
            return None, InfraError(lost, kind="connection"), Signal.NEUTRAL
        except (openai.APIResponseValidationError, json.JSONDecodeError) as e:
            bad = f"unreadable response from {ep.url}: {e}"
            return None, InfraError(bad, kind="server_error"), Signal.NEUTRAL
        if not hasattr(completion, "choices"):  # e.g. a proxy's HTML error page with status 200
            bad = f"unreadable response from {ep.url}: not a chat completion"
            return None, InfraError(bad, kind="server_error"), Signal.NEUTRAL
        return completion, None, Signal.OK

    async def aclose(self) -> None:
        for ep in self.endpoints:
            if ep.client is not None:
                await ep.client.close()
                ep.client = None

    # ---- requests -----------------------------------------------------------------------

    def model_name(self, model: ModelSpec) -> str:
        return model.hf_id if self.options.model_name_from == "hf_id" else model.name

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for one request."""
        body: dict[str, Any] = {
            "model": self.model_name(request.model),
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            self.options.max_tokens_field: request.max_tokens,
            "seed": request.seed,
        }
        if self.options.structured_output and request.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name or "response",
                    "schema": request.schema,
                    "strict": self.options.strict_schema,
                },
            }
        if self.options.extra_body:  # e.g. {frequency_penalty: 0.5}: merged into the JSON body
            body["extra_body"] = dict(self.options.extra_body)
        return body

    def admission_limit(self, model: ModelSpec) -> int:
        """Requests this client keeps in flight to one endpoint for ``model``: its share
        (1 / ``n_clients``) of ``ClientOptions.in_flight_bound``."""
        bound = self.options.in_flight_bound(self._replicas_of(model), model.max_num_seqs)
        return max(1, math.ceil(bound / self.n_clients))

    def _window(self, ep: _Endpoint, model: ModelSpec) -> AdmissionWindow:
        w = ep.windows.get(model.name)
        if w is None:
            w = ep.windows[model.name] = AdmissionWindow(self.admission_limit(model))
        return w

    def _pick(self, request: ChatRequest) -> _Endpoint:
        model = request.model
        turn = next(self._turn)
        n = len(self.endpoints)
        if self.options.balance == "round_robin" or n == 1:
            return self.endpoints[turn % n]
        if self.options.balance == "prefix_affinity":
            loads = [self._window(ep, model).load for ep in self.endpoints]
            return self.endpoints[choose(prefix_key(request), loads)]
        order = [self.endpoints[(turn + i) % n] for i in range(n)]  # rotate to break ties
        return min(order, key=lambda ep: self._window(ep, model).load)

    def _client(self, ep: _Endpoint) -> Any:
        if ep.client is None:
            o = self.options
            ep.client = openai.AsyncOpenAI(
                api_key=self._key,
                base_url=ep.url,
                timeout=o.timeout_s,
                max_retries=0,
                http_client=bounded_client(o.max_response_bytes, o.timeout_s),
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
            hint = _REFUSED_HINT.get(status, "")
            return BackendRequestError(f"HTTP {status} from {ep.url}: {detail}{hint}")
        return InfraError(
            f"HTTP {status} from {ep.url}: {detail}", kind=kind, retry_after_s=_retry_after(e)
        )

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After is the minimum."""
        expo = self.options.backoff_s * 2 ** (attempt - 1) * self._rng.uniform(0.5, 1.0)
        return min(self.options.backoff_max_s, max(expo, retry_after_s or 0.0))

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key != NO_KEY else text


def _response(request: ChatRequest, completion: Any, latency_s: float) -> ChatResponse:
    choice = completion.choices[0] if completion.choices else None
    text = (choice.message.content if choice is not None else None) or ""
    finish = (choice.finish_reason if choice is not None else None) or "stop"
    usage = completion.usage
    estimated = usage is None or usage.prompt_tokens is None
    if not estimated:
        ptok, ctok = int(usage.prompt_tokens), int(usage.completion_tokens or 0)
    else:  # the server sent no usage: estimate, as the sim does, and say so
        ptok = sum(estimate_tokens(m.content) for m in request.messages)
        ctok = estimate_tokens(text) if text else 0
    served = str(getattr(completion, "model", None) or "")
    fingerprint = str(getattr(completion, "system_fingerprint", None) or "")
    return ChatResponse(text, ptok, ctok, str(finish), latency_s, served, fingerprint, estimated)


_REFUSED_HINT = {
    401: "; check the key in the variable backend.api_key_env names",
    403: "; the key lacks access to this model or endpoint",
    404: "; check the model name (backend.model_name_from, conf/model) and backend.base_url",
}


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


def engine_slots(models: Sequence[ModelSpec], options: ClientOptions) -> int:
    """Engine slots the clients may use: each model's bound on every endpoint."""
    return slots(models, options, lambda m: m.replicas, len(options.urls))


def prepare_runners(
    specs: Sequence[Any],
    options: ClientOptions,
    runners: int,
    recount: Callable[[], int],
    replicas: Mapping[str, int] | None = None,
) -> RunnerSetup:
    """The servers are the user's: the runners' clients only learn how many share them
    (``replicas``, a deployment phase's, does not apply)."""
    return RunnerSetup(runners, Runtime(n_clients=runners))
