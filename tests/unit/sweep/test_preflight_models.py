"""Preflight: every endpoint answers /models and lists every model of the sweep and the judge."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.backends.options import SimOptions
from sweep.config import build, compose
from sweep.errors import UserError
from sweep.plan import plan
from sweep.preflight import preflight


def _server(ids: list[str]) -> ThreadingHTTPServer:
    class Models(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"data": [{"id": i} for i in ids]}).encode()
            code = 200 if self.path == "/v1/models" else 404
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Models)


@pytest.fixture
def serve() -> Iterator:
    servers: list[ThreadingHTTPServer] = []

    def start(ids: list[str]) -> str:
        srv = _server(ids)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _check(url: str, *extra: str) -> None:
    over = ["backend=openai", f"backend.base_url={url}", "backend.api_key_env=null", *extra]
    typed, _ = build(compose(over))
    preflight(plan(typed).specs, typed.backend.name, typed.backend.options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_is_one_message_naming_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(UserError) as e:
        _check(url)
    assert str(e.value) == (
        f"preflight: cannot reach {url}/models ([Errno 111] Connection refused); start the "
        "server or fix backend.base_url, or skip this check with --no-preflight"
    )


def test_a_model_missing_from_the_list_is_named(serve) -> None:
    typed, _ = build(compose(["backend=openai", "backend.api_key_env=null"]))
    ids = sorted({m.hf_id for m in typed.models.values()} - {typed.judge.model.hf_id})
    url = serve(ids)
    with pytest.raises(UserError) as e:
        _check(url)
    judge = typed.judge.model
    assert str(e.value).startswith(
        f"preflight: {url}/models does not list {judge.hf_id!r} (the judge {judge.name}); "
        "it lists: "
    )
    assert str(e.value).endswith("or skip this check with --no-preflight")


def test_every_model_listed_passes_and_sim_is_not_checked(serve) -> None:
    typed, _ = build(compose(["backend=openai", "backend.api_key_env=null"]))
    _check(serve(sorted(m.hf_id for m in typed.models.values())))
    preflight(plan(typed).specs, "sim", SimOptions())  # no server needed
