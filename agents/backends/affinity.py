"""Prefix affinity: which of several endpoints a request goes to, so a prefix cache can help.

vLLM's prefix cache lives in one engine: calls that share a prompt prefix only reuse it when
they reach the same replica. ``prefix_key`` names what they share: the model and the request's
``affinity`` (the runtime sets the episode id: the calls of one round share all but their last
section), else the first line of the first user message (both prompt layouts open with the
task's header). Keyed by episode rather than task, the episodes of one task (which run at the
same time: the planner varies protocols fastest) spread over the endpoints and each prefills
the task once per endpoint, not once per call. ``choose`` ranks the endpoints for a key by
rendezvous hashing (stable, and an endpoint's keys move elsewhere only when it is busy) and
takes the first whose load is within ``slack`` of the least loaded, so load stays balanced:
a key never waits on a busy endpoint while another has room (bounded-load consistent hashing).
Once no endpoint has room (every load >= 1: all engines full, requests queued at each), the slack
grows with the load (``slack`` x the lowest load): moving a key then gains no throughput, every
engine being busy anyway, and would only cost its cache (bench/affinity.py measured it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from agents.backends.chat import ChatRequest

SLACK = 0.5  # load is requests per window slot: half a window of imbalance is tolerated


def prefix_key(request: ChatRequest) -> str:
    if request.affinity:
        return f"{request.model.name}|{request.affinity}"
    user = next((m.content for m in request.messages if m.role == "user"), "")
    head = user.split("\n", 1)[0] if user else request.messages[0].content[:256]
    return f"{request.model.name}|{head}"


def rank(key: str, n: int) -> list[int]:
    """Endpoints 0..n-1 in ``key``'s order of preference (highest random weight first)."""
    weight = [hashlib.blake2b(f"{key}|{i}".encode(), digest_size=8).digest() for i in range(n)]
    return sorted(range(n), key=lambda i: weight[i], reverse=True)


def choose(key: str, loads: Sequence[float], slack: float = SLACK) -> int:
    """The endpoint for ``key``: its most preferred one within ``slack`` of the lowest load
    (``slack`` x the lowest load when that is above 1)."""
    low = min(loads)
    limit = low + slack * max(1.0, low)
    return next(i for i in rank(key, len(loads)) if loads[i] <= limit)
