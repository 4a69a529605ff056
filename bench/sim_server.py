"""A simulated LLM engine behind an OpenAI-compatible HTTP API on 127.0.0.1 (benchmark 2).

It plays a continuous-batching engine (vLLM's scheduler, simplified) in real time:

- **capacity** ``C`` sequences run at once; requests beyond it wait in a FIFO queue;
- each **step** advances every decoding sequence by one token (and a sequence whose prefill
  ends in the step by its first token, as vLLM samples it from the prefill) and takes
  ``step_s * (1 + growth * b / C)`` seconds for ``b`` decoding sequences, plus
  ``prefill_s_per_token`` for each prompt token processed in the step (chunked prefill: at most
  ``chunk_tokens`` tokens, decode tokens included, per step); a **prefix cache** of 16-token
  blocks with chained hashes (``bench/prefix_cache.py``) skips the prompt blocks it holds, so
  only uncached tokens are prefilled and pay; prompts are tokenized as their chat-template text
  at ~4 characters per token;
- a **KV budget** of ``kv_tokens`` in blocks (shared prompt blocks count once; unreferenced
  blocks stay cached and are evicted least recently used first): a waiting request is admitted
  only when its uncached blocks fit under the budget less a ``watermark``; when decode growth
  overflows the budget the newest sequence is **preempted** (recompute mode: its blocks are
  released, it goes back to the head of the queue and on readmission re-prefills what is no
  longer cached plus its generated tokens), plus an optional fixed ``preempt_stall_s``.

Replies are ``agents.backends.sim.respond`` of the posted request, so orgsweep parses them as it
parses the sim's; a reply's completion length is its token estimate (``estimate_tokens``).
The step clock is deadline-based (a late step is made up by the next ones, up to ``max_lag_s``)
so the engine keeps its nominal speed on a busy machine; ``clock_efficiency`` in the stats says
how well that held.

``GET /stats`` returns the figures since the last ``POST /reset`` (which also empties the cache
when the engine is idle): time-weighted occupancy (running sequences / C), decode tokens/s,
prompt and prefilled tokens, prefix-cache hit rate and evictions, the ideal prefill (each
distinct block once), time spent prefill-bound, preemptions, queueing, and occupancy per
``bin_s`` bin. ``bench.sim_engine.bound(params, P, D)`` is the engine's capacity bound for a
workload of mean prompt ``P`` and completion ``D`` tokens. ``--completion-scale`` makes every
reply cost that many times its token estimate (a wordier model).

The engine itself is ``bench/sim_engine.py``; this module is its HTTP face and command line.

Run: ``python -m bench.sim_server --capacity 64`` prints ``listening http://127.0.0.1:PORT/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from aiohttp import web

from agents.backends.chat import estimate_tokens
from agents.backends.sim import respond
from agents.catalogue import ModelSpec
from bench.prefix_cache import char_tokens, chat_text
from bench.sim_engine import Engine, EngineParams
from sweep.sim_openai import catalogue, chat_request, completion

__all__ = [
    "Engine",
    "EngineParams",
    "add_engine_args",
    "answer",
    "make_app",
    "params_from",
    "serve",
]


# ---- HTTP --------------------------------------------------------------------------------------


def make_app(
    engine: Engine, models: Mapping[str, ModelSpec], replicas: Sequence[Engine] = ()
) -> web.Application:
    """The engine at ``/v1``; each of ``replicas`` (if any) also at ``/r{i}/v1`` with its own
    ``/r{i}/stats``, and ``POST /reset`` resets them all."""
    app = web.Application(client_max_size=64 * 2**20)
    for prefix, e in [("", engine), *((f"/r{i}", r) for i, r in enumerate(replicas))]:
        app.router.add_post(f"{prefix}/v1/chat/completions", _chat_handler(e, models))
        app.router.add_get(f"{prefix}/stats", _stats_handler(e))

    async def reset(_: web.Request) -> web.Response:
        for e in {id(x): x for x in (engine, *replicas)}.values():
            e.reset()
        return web.json_response({"ok": True, "running": len(engine.running)})

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_post("/reset", reset)
    app.router.add_get("/health", health)
    return app


def _stats_handler(engine: Engine) -> Any:
    async def stats(_: web.Request) -> web.Response:
        return web.json_response(engine.stats())

    return stats


def _chat_handler(engine: Engine, models: Mapping[str, ModelSpec]) -> Any:
    async def chat(http: web.Request) -> web.Response:
        status, payload = await answer(engine, models, await http.json())
        return web.json_response(payload, status=status)

    return chat


async def answer(
    engine: Engine, models: Mapping[str, ModelSpec], body: Mapping[str, Any]
) -> tuple[int, dict[str, Any]]:
    """A posted ``/v1/chat/completions`` body through ``engine``: (HTTP status, JSON body)."""
    model = models.get(str(body.get("model")))
    if model is None:
        return _error(404, f"The model `{body.get('model')}` does not exist.")
    request = chat_request(body, model)
    text = respond(request)
    tokens = char_tokens(chat_text((m.role, m.content) for m in request.messages))
    prompt = len(tokens)
    if prompt > engine.p.kv_tokens * (1 - engine.p.watermark):
        return _error(400, f"prompt of {prompt} tokens exceeds the KV budget")
    target, finish = math.ceil(estimate_tokens(text) * engine.p.completion_scale), "stop"
    if target > request.max_tokens:
        target, finish, text = request.max_tokens, "length", text[: 4 * request.max_tokens]
    seq = engine.submit(tokens, target)
    try:
        await seq.fut
    except asyncio.CancelledError:
        engine.abort(seq)
        raise
    reply = completion(f"chatcmpl-{id(seq):x}", body.get("model"), text, finish, (prompt, target))
    return 200, reply


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": "sim_server", "code": status}}


async def serve(params: EngineParams, port: int, replicas: int = 1) -> None:
    engines = [Engine(params) for _ in range(replicas)]
    runner = web.AppRunner(
        make_app(engines[0], catalogue(), engines if replicas > 1 else ()),
        access_log=None,
        handler_cancellation=True,
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    sock = site._server.sockets[0]  # type: ignore[union-attr]
    print(f"listening http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    await asyncio.gather(*(e.run() for e in engines))


def params_from(args: argparse.Namespace) -> EngineParams:
    return EngineParams(
        capacity=args.capacity,
        step_s=args.step_ms / 1e3,
        growth=args.growth,
        prefill_s_per_token=args.prefill_us / 1e6,
        chunk_tokens=args.chunk_tokens,
        kv_tokens=args.kv_tokens,
        watermark=args.watermark,
        preempt_stall_s=args.stall_ms / 1e3,
        completion_scale=args.completion_scale,
    )


def add_engine_args(p: argparse.ArgumentParser) -> None:
    d = EngineParams()
    p.add_argument("--capacity", type=int, default=d.capacity, help="C, running sequences")
    p.add_argument("--step-ms", type=float, default=d.step_s * 1e3, help="decode step at batch 1")
    p.add_argument("--growth", type=float, default=d.growth, help="step x (1+growth) at batch C")
    p.add_argument("--prefill-us", type=float, default=d.prefill_s_per_token * 1e6)
    p.add_argument("--chunk-tokens", type=int, default=d.chunk_tokens)
    p.add_argument("--kv-tokens", type=int, default=d.kv_tokens)
    p.add_argument("--watermark", type=float, default=d.watermark)
    p.add_argument("--stall-ms", type=float, default=0.0, help="fixed cost per preemption")
    p.add_argument(
        "--completion-scale", type=float, default=1.0, help="decode tokens per reply token"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_engine_args(ap)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--replicas", type=int, default=1, help="engines, each at /r{i}/v1")
    args = ap.parse_args()
    params = params_from(args)
    print(json.dumps(asdict(params)), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(params, args.port, args.replicas))


if __name__ == "__main__":
    main()
