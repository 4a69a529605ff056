"""A request has a total deadline and a bounded body: servers that send bytes forever fail it.

Against a server that drips one byte a second, an idle-read timeout never fires; against one that
streams an endless body, memory would grow until the deadline. Both must fail the call as an
infrastructure error within (max_retries + 1) x timeout_s plus backoff.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Iterator

import pytest

from agents.backends.chat import ChatRequest, InfraError, Message
from agents.backends.openai import OpenAIBackend
from agents.backends.options import BackendConfigError, ClientOptions
from agents.catalogue import ModelSpec
from agents.contract import AGENT_TURN_SCHEMA
from tests.fake_openai_server import FakeOpenAIServer

MODEL = ModelSpec(name="tiny", hf_id="org/tiny-chat", max_num_seqs=4, replicas=1)


def _request() -> ChatRequest:
    messages = (Message("system", "You are agent 0."), Message("user", "Do something."))
    return ChatRequest(MODEL, messages, 0.7, 64, 1, "agent_turn", AGENT_TURN_SCHEMA)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer({MODEL.hf_id: MODEL}) as srv:
        srv.faults.drip_s = 0.2
        srv.faults.forever_s = 10.0
        yield srv


async def _chat(backend: OpenAIBackend) -> None:
    try:
        await backend.chat(_request())
    finally:
        await backend.aclose()


def _fail(url: str, **kw: object) -> tuple[InfraError, float]:
    opts: dict[str, object] = {"api_key_env": None, "backoff_s": 0.01, "backoff_max_s": 0.05}
    backend = OpenAIBackend(ClientOptions.parse({"base_url": url, **opts, **kw}))
    t0 = time.perf_counter()
    with pytest.raises(InfraError) as e:
        asyncio.run(_chat(backend))
    return e.value, time.perf_counter() - t0


def test_a_dripping_server_hits_the_total_deadline(server: FakeOpenAIServer) -> None:
    server.script.extend(["drip", "drip"])
    error, seconds = _fail(server.url, timeout_s=1.0, max_retries=1)
    assert error.kind == "timeout"
    assert "no complete response within 1 s" in str(error) and "gave up after 2" in str(error)
    assert server.stats.actions["drip"] == 2
    # Two deadlines and one short backoff; an idle-read timeout would still be waiting.
    assert seconds < 2 * 1.0 + 1.5


def test_an_endless_body_is_cut_off_at_the_size_bound(server: FakeOpenAIServer) -> None:
    server.script.extend(["endless"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error, _ = _fail(server.url, timeout_s=5.0, max_retries=0, max_response_bytes=1 << 20)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert error.kind == "server_error"
    assert "passed 1048576 bytes (backend.max_response_bytes)" in str(error)
    assert grown_mib < 64  # the body is dropped as it passes the bound, not buffered to the end


def test_the_next_request_after_a_bad_one_succeeds(server: FakeOpenAIServer) -> None:
    server.script.extend(["drip", "ok"])

    async def run() -> str:
        backend = OpenAIBackend(
            ClientOptions.parse(
                {"base_url": server.url, "api_key_env": None, "timeout_s": 0.5, "backoff_s": 0.01}
            )
        )
        try:
            return (await backend.chat(_request())).text
        finally:
            await backend.aclose()

    assert asyncio.run(run()).startswith("{")
    assert [server.stats.actions[a] for a in ("drip", "ok")] == [1, 1]


def test_max_response_bytes_is_checked() -> None:
    with pytest.raises(BackendConfigError) as e:
        ClientOptions.parse({"api_key_env": None, "max_response_bytes": 10})
    assert e.value.problems == ["backend.max_response_bytes=10: must be a whole number >= 1024"]
