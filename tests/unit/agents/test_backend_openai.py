"""The ``openai`` backend against a fake OpenAI-compatible server on 127.0.0.1: retries and
backoff, Retry-After, InfraError kinds, repair-not-retry, usage, secrecy of the key, structured
output, load spreading and admission (the whole sweep against a faulty server:
tests/integration/test_backend_sweeps.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fake_openai_server import BROKEN, FakeOpenAIServer

from agents.backends import check_options as registry_check
from agents.backends import make_backend, parse_options
from agents.backends.admission import AdmissionWindow, Signal
from agents.backends.chat import ChatRequest, InfraError, Message
from agents.backends.openai import BackendRequestError, OpenAIBackend
from agents.backends.options import BackendConfigError, ClientOptions, Runtime
from agents.catalogue import ModelSpec
from agents.contract import AGENT_TURN_SCHEMA
from agents.judge import JudgeSpec, judge
from agents.tasks import generate_tasks

MODEL = ModelSpec(name="tiny", hf_id="org/tiny-chat", max_num_seqs=4, replicas=2)
MODELS = {MODEL.hf_id: MODEL, MODEL.name: MODEL}
SECRET = "sk-test-0123456789abcdef-NEVER-LOG-ME"


def _request(seed: int = 1, *, schema: bool = True, model: ModelSpec = MODEL) -> ChatRequest:
    messages = (
        Message("system", "You are agent 0 in an organisation of 4 AI agents solving one task."),
        Message("user", "# Task T1 (level L1; domains: ops)\n## Your turn\nDo something."),
    )
    return ChatRequest(
        model, messages, 0.7, 256, seed, "agent_turn", AGENT_TURN_SCHEMA if schema else None
    )


def _backend(url: str | list[str], runtime: Runtime | None = None, **kw: Any) -> OpenAIBackend:
    opts: dict[str, Any] = {"api_key_env": None, "timeout_s": 2.0, "backoff_s": 0.001, **kw}
    return OpenAIBackend(ClientOptions.parse({"base_url": url, **opts}), runtime)


def check_options(options: dict[str, Any]) -> list[str]:
    return registry_check("openai", options)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _chat_then_close(backend: OpenAIBackend, *requests: ChatRequest) -> list[Any]:
    try:
        return [await backend.chat(r) for r in requests]
    finally:
        await backend.aclose()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(MODELS) as srv:
        yield srv


# ---- retries --------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(server: FakeOpenAIServer) -> None:
    server.script.extend(["429:0.3", "ok"])
    t0 = time.perf_counter()
    [reply] = _run(_chat_then_close(_backend(server.url), _request()))
    assert time.perf_counter() - t0 >= 0.3  # backoff_s alone would wait ~1 ms
    assert reply.finish_reason == "stop" and reply.text.startswith("{")
    assert len(server.stats.requests) == 2


def test_5xx_and_stalls_are_retried_with_growing_backoff(server: FakeOpenAIServer) -> None:
    server.faults.stall_s = 3.0
    server.script.extend(["500", "503", "stall", "ok"])
    backend = _backend(server.url, timeout_s=0.3, backoff_s=0.05)
    t0 = time.perf_counter()
    [reply] = _run(_chat_then_close(backend, _request()))
    elapsed = time.perf_counter() - t0
    assert reply.finish_reason == "stop"
    assert len(server.stats.requests) == 4
    # backoff 0.05 * (1, 2, 4) * jitter in [0.5, 1] plus one 0.3 s timeout
    assert 0.3 + 0.175 <= elapsed < 2.5


@pytest.mark.parametrize(
    ("action", "kind", "retry_after"),
    [
        ("429:0.01", "rate_limited", 0.01),
        ("500", "server_error", None),
        ("503", "server_error", None),
        ("stall", "timeout", None),
        ("garbage", "server_error", None),
        ("badjson", "server_error", None),
    ],
)
def test_infra_error_after_the_last_retry(
    server: FakeOpenAIServer, action: str, kind: str, retry_after: float | None
) -> None:
    server.faults.stall_s = 2.0
    server.script.extend([action] * 3)
    with pytest.raises(InfraError) as err:
        _run(_chat_then_close(_backend(server.url, max_retries=2, timeout_s=0.2), _request()))
    assert err.value.kind == kind
    assert err.value.retry_after_s == retry_after
    assert "3 attempts" in str(err.value)
    assert len(server.stats.requests) == 3


def test_connection_refused_is_a_connection_infra_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nothing listens there
    backend = _backend(f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(InfraError) as err:
        _run(_chat_then_close(backend, _request()))
    assert err.value.kind == "connection"


def test_client_errors_are_not_retried(server: FakeOpenAIServer) -> None:
    unknown = ModelSpec(name="nope", hf_id="org/not-served")
    with pytest.raises(BackendRequestError, match=r"HTTP 404 .*org/not-served"):
        _run(_chat_then_close(_backend(server.url), _request(model=unknown)))
    assert len(server.stats.requests) == 1


# ---- replies the repair path owns -----------------------------------------------------------


@pytest.mark.parametrize(("action", "finish"), [("length", "length"), ("broken", "stop")])
def test_cut_off_and_broken_replies_are_returned_not_retried(
    server: FakeOpenAIServer, action: str, finish: str
) -> None:
    server.script.append(action)
    [reply] = _run(_chat_then_close(_backend(server.url), _request()))
    assert reply.finish_reason == finish
    assert len(server.stats.requests) == 1
    if action == "broken":
        assert reply.text == BROKEN


def test_broken_reply_goes_to_the_judge_repair(server: FakeOpenAIServer) -> None:
    judge_model = ModelSpec(name="judge", hf_id="org/judge")
    server.models[judge_model.hf_id] = judge_model
    server.script.append("broken")
    task = generate_tasks(0, "L1", 1)[0]
    backend = _backend(server.url)

    async def go() -> Any:
        try:
            return await judge(backend, JudgeSpec(judge_model), task, "mission", "### x", seed=3)
        finally:
            await backend.aclose()

    verdict = _run(go())
    assert verdict.calls == 2 and verdict.scores is not None and verdict.error == ""
    assert len(server.stats.requests) == 2


# ---- usage ----------------------------------------------------------------------------------


def test_usage_from_the_server_or_estimated(server: FakeOpenAIServer) -> None:
    server.script.extend(["ok", "nousage"])
    with_usage, without = _run(
        _chat_then_close(_backend(server.url), _request(seed=5), _request(seed=5))
    )
    assert with_usage.prompt_tokens > 0 and with_usage.completion_tokens > 0
    # The fake's usage is the sim's estimate, so the estimate matches it exactly.
    assert (without.prompt_tokens, without.completion_tokens) == (
        with_usage.prompt_tokens,
        with_usage.completion_tokens,
    )
    assert with_usage.latency_s > 0
    # Flagged per call, and the model id the server reports is kept (the fake echoes it).
    assert (with_usage.tokens_estimated, without.tokens_estimated) == (False, True)
    assert with_usage.served_model == without.served_model == MODEL.hf_id


def test_sampling_parameters_are_sent(server: FakeOpenAIServer) -> None:
    _run(_chat_then_close(_backend(server.url, model_name_from="name"), _request(seed=42)))
    body = server.stats.requests[0]
    assert body["model"] == "tiny"
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.7, 256, 42)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


# ---- structured output ----------------------------------------------------------------------


def test_json_schema_sent_when_structured_output_is_on(server: FakeOpenAIServer) -> None:
    _run(_chat_then_close(_backend(server.url), _request(), _request(schema=False)))
    fmt = server.stats.requests[0]["response_format"]
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "agent_turn", "schema": AGENT_TURN_SCHEMA, "strict": True},
    }
    assert "response_format" not in server.stats.requests[1]  # no schema, no format


def test_no_response_format_when_structured_output_is_off(server: FakeOpenAIServer) -> None:
    [reply] = _run(_chat_then_close(_backend(server.url, structured_output=False), _request()))
    assert "response_format" not in server.stats.requests[0]
    assert reply.text.startswith("{")


# ---- the API key ----------------------------------------------------------------------------


def test_key_is_sent_but_never_logged_shown_or_raised(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORGSWEEP_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    backend = _backend(server.url, api_key_env="ORGSWEEP_TEST_KEY", max_retries=1)
    server.script.extend(["ok", "500", "500"])
    with pytest.raises(InfraError) as err:
        _run(_chat_then_close(backend, _request(), _request()))
    assert server.stats.auth == {f"Bearer {SECRET}"}  # it does reach the server
    # A server that echoes the key in its error message.
    server.script.append("401")
    with pytest.raises(BackendRequestError) as refused:
        _run(_chat_then_close(backend, _request()))
    shown = [
        repr(backend),
        str(backend),
        str(err.value),
        repr(err.value),
        str(refused.value),
        repr(refused.value),
        caplog.text,
    ]
    assert all(SECRET not in s for s in shown)
    assert "Incorrect API key provided: Bearer ***" in str(refused.value)
    # No chained exception carries the request (with its Authorization header) along.
    for e in (err.value, refused.value):
        assert e.__cause__ is None and e.__context__ is None


def test_unset_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGSWEEP_UNSET_KEY", "sk-on-the-driver")
    options = ClientOptions.parse({"api_key_env": "ORGSWEEP_UNSET_KEY"})  # parsed on the driver
    monkeypatch.delenv("ORGSWEEP_UNSET_KEY")  # ... and a runner's node lacks the variable
    with pytest.raises(BackendConfigError) as err:
        OpenAIBackend(options)
    assert str(err.value) == (
        "backend.api_key_env=ORGSWEEP_UNSET_KEY: the environment variable ORGSWEEP_UNSET_KEY is "
        "not set; export it (the key is read from there and never stored), or set "
        "backend.api_key_env=null for a local server that needs no key"
    )


def test_null_key_variable_sends_a_dummy_key(server: FakeOpenAIServer) -> None:
    _run(_chat_then_close(_backend(server.url), _request()))
    assert server.stats.auth == {"Bearer EMPTY"}


def test_check_options_reports_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    assert check_options({"base_url": "http://x/v1", "api_key_env": None}) == []
    assert check_options({"bsae_url": "x"})[0].startswith(
        "backend: unknown key(s) bsae_url; valid:"
    )
    problems = check_options(
        {
            "base_url": ["ftp://x"],
            "api_key_env": "NOPE_KEY",
            "timeout_s": -1,
            "model_name_from": "id",
            "balance": "random",
            "n_clients": 0,
        }
    )
    assert len(problems) == 6
    assert problems[0] == "backend.base_url='ftp://x': must start with http:// or https://"
    assert "backend.model_name_from='id'; valid: hf_id, name" in problems


def test_registry_builds_and_checks_it_from_config_options(server: FakeOpenAIServer) -> None:
    options = parse_options("openai", {"base_url": [server.url], "api_key_env": None})
    backend = make_backend("openai", options)
    assert isinstance(backend, OpenAIBackend)
    assert "EMPTY" not in repr(backend)
    assert registry_check("openai", {"base_url": server.url, "api_key_env": None}) == []
    assert registry_check("openai", {"balance": "x", "api_key_env": None}) == [
        "backend.balance='x'; valid: prefix_affinity, least_in_flight, round_robin"
    ]
    assert registry_check("sim", {"latency": 1}) == [
        "backend: unknown key(s) latency; valid: invalid_output_rate, simulate_latency"
    ]


# ---- load spreading and admission -----------------------------------------------------------


async def _fan_out(backend: OpenAIBackend, n: int) -> None:
    try:
        await asyncio.gather(*(backend.chat(_request(seed=i)) for i in range(n)))
    finally:
        await backend.aclose()


@pytest.mark.parametrize("balance", ["round_robin", "least_in_flight"])
def test_base_url_list_spreads_load(balance: str) -> None:
    with FakeOpenAIServer(MODELS, ports=2, latency_s=0.02) as srv:
        _run(_fan_out(_backend(srv.urls, balance=balance), 20))
        counts = sorted(srv.stats.by_port.values())
    assert sum(counts) == 20
    assert counts == [10, 10] if balance == "round_robin" else counts[0] >= 6


def test_admission_bounds_concurrency_at_the_server() -> None:
    with FakeOpenAIServer(MODELS, latency_s=0.03) as srv:
        backend = _backend(srv.url)  # replicas 2 x max_num_seqs 4 x (1 + 0.25 headroom)
        assert backend.admission_limit(MODEL) == 10
        _run(_fan_out(backend, 40))
        assert srv.stats.peak[MODEL.hf_id] == 10
    with FakeOpenAIServer(MODELS, latency_s=0.03) as srv:
        backend = _backend(srv.url, admission_headroom=0)  # exactly the engines' 8
        _run(_fan_out(backend, 40))
        assert srv.stats.peak[MODEL.hf_id] == 8
    with FakeOpenAIServer(MODELS, latency_s=0.03) as srv:
        _run(_fan_out(_backend(srv.url, n_clients=3), 40))  # ceil(10 / 3)
        assert srv.stats.peak[MODEL.hf_id] == 4
    with FakeOpenAIServer(MODELS, latency_s=0.03) as srv:
        _run(_fan_out(_backend(srv.url, max_in_flight=5, n_clients=2), 40))  # ceil(5 / 2)
        assert srv.stats.peak[MODEL.hf_id] == 3
    # The executor's runtime count wins over the options' own, which it leaves as they are.
    backend = _backend("http://127.0.0.1:9/v1", Runtime(n_clients=5), n_clients=2)
    assert backend.admission_limit(MODEL) == 2 and backend.options.n_clients == 2  # ceil(10 / 5)


def test_admission_backs_off_after_overload_and_grows_back() -> None:
    with FakeOpenAIServer(MODELS, latency_s=0.03, script=["429:0.05"] * 8) as srv:
        backend = _backend(srv.url)
        _run(_fan_out(backend, 48))
        window = backend.endpoints[0].windows[MODEL.name]
        assert srv.stats.actions["429"] == 8
        # The 8 rejections of one window halve it once, not eight times ...
        assert window.overloads == 1
        # ... and the 48 successes since grew it back to the engine's capacity.
        assert window.capacity == backend.admission_limit(MODEL) and window.in_flight == 0


def test_admission_window_aimd() -> None:
    w = AdmissionWindow(16)

    async def go() -> None:
        slots = [await w.acquire() for _ in range(16)]
        assert w.capacity == 16 and w.in_flight == 16
        for s in slots[:4]:  # four overload replies from one epoch: one halving
            w.release(s, Signal.OVERLOAD)
        assert (w.capacity, w.overloads) == (8, 1)
        for s in slots[4:]:
            w.release(s, Signal.NEUTRAL)
        s = await w.acquire()  # a new epoch: a new overload halves again
        w.release(s, Signal.OVERLOAD)
        assert (w.capacity, w.overloads) == (4, 2)
        grown = []  # additive increase: about +1 slot per window of successes
        for _ in range(30):
            before = w.window
            w.release(await w.acquire(), Signal.OK)
            grown.append(w.window - before)
            if w.capacity == 8:
                break
        assert 20 <= len(grown) <= 26  # 4 -> 8 takes (8^2 - 4^2) / 2 = 24 successes
        assert max(grown) <= 0.25

    _run(go())


def test_admission_window_waits_fifo_and_survives_cancellation() -> None:
    w = AdmissionWindow(1)
    order: list[int] = []

    async def user(i: int) -> None:
        slot = await w.acquire()
        order.append(i)
        await asyncio.sleep(0.01)
        w.release(slot, Signal.OK)

    async def go() -> None:
        first = await w.acquire()
        tasks = [asyncio.create_task(user(i)) for i in range(4)]
        await asyncio.sleep(0.01)
        tasks[1].cancel()  # a waiter gives up: its place is skipped, not leaked
        w.release(first, Signal.OK)
        await asyncio.gather(*tasks, return_exceptions=True)
        assert w.in_flight == 0 and w.peak == 1

    _run(go())
    assert order == [0, 2, 3]
