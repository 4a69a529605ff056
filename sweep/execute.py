"""The Ray executor: the only module that imports ray.

Runner actors (asyncio, many episodes in flight each) run episodes; the driver dispatches them in
bounded numbers (never one object per planned episode), retries failures with backoff up to
``max_attempts``, records a poison episode as ``failed`` after its last attempt, and commits rows
through a ``BufferedWriter``. Ctrl-C flushes what finished and re-raises.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray

from agents.backends import make_backend
from agents.backends.base import InfraError
from sweep.config import BackendConfig, ClusterConfig
from sweep.episode import EpisodeRows, failed_rows, run_episode
from sweep.spec import EpisodeSpec
from sweep.store import BufferedWriter

log = logging.getLogger("orgsweep")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    rows: EpisodeRows | None = None
    kind: str = ""
    error: str = ""
    retry_after_s: float | None = None


@ray.remote
class EpisodeRunner:
    """Runs episodes concurrently on one asyncio loop, sharing one backend client."""

    def __init__(self, backend: BackendConfig):
        self.backend = make_backend(backend.name, dict(backend.options))

    async def run(self, spec: EpisodeSpec, attempt: int) -> Outcome:
        try:
            return Outcome(True, await run_episode(spec, self.backend, attempt))
        except InfraError as e:
            return Outcome(False, kind=e.kind, error=str(e), retry_after_s=e.retry_after_s)
        except Exception as e:  # a poison episode must not stop the sweep
            tb = traceback.format_exc(limit=3).strip().splitlines()
            return Outcome(False, kind=type(e).__name__, error=f"{e} | {' / '.join(tb[-3:])}")

    async def close(self) -> None:
        await self.backend.aclose()


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    retried: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)


def start_ray(cluster: ClusterConfig) -> bool:
    """Connect to (or start) Ray; True when this call started a local instance."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A local instance serves this process only: no token authentication to set up.
    if not (cluster.address or os.environ.get("RAY_ADDRESS")):
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if ray.is_initialized():
        return False
    address = cluster.address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "configure_logging": True,
    }
    if address:
        ray.init(address=address, **kwargs)
        return False
    ray.init(num_cpus=cluster.num_cpus or os.cpu_count() or 2, **kwargs)
    return True


def execute(
    work: Sequence[tuple[EpisodeSpec, int]],
    writer: BufferedWriter,
    backend: BackendConfig,
    cluster: ClusterConfig,
    on_progress: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    """Run ``(spec, first_attempt)`` pairs; returns the final counts."""
    prog = Progress(total=len(work))
    if not work:
        return prog
    started = start_ray(cluster)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    n_runners = max(1, min(cluster.runners or cpus, max(cpus, 1)))
    runners = [_new_runner(backend, cluster) for _ in range(n_runners)]
    load = [0] * n_runners
    queue: list[tuple[float, int, EpisodeSpec, int]] = [
        (0.0, i, spec, attempt) for i, (spec, attempt) in enumerate(work)
    ]
    heapq.heapify(queue)
    seq = itertools.count(len(queue))
    inflight: dict[ray.ObjectRef, tuple[EpisodeSpec, int, int]] = {}
    try:
        while queue or inflight:
            _dispatch(queue, inflight, runners, load, cluster.episodes_per_runner)
            if not inflight:
                time.sleep(min(1.0, max(0.0, queue[0][0] - time.monotonic())))
                continue
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
            if ready:
                ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
            for ref in ready:
                spec, attempt, r = inflight.pop(ref)
                load[r] -= 1
                out = _result(ref, runners, r, backend, cluster)
                _handle(out, spec, attempt, queue, seq, writer, cluster, prog)
            if writer.due():
                writer.flush()
            on_progress(prog)
    finally:
        writer.flush()
        on_progress(prog)
        for ref in inflight:
            ray.cancel(ref, force=False)
        if started:
            ray.shutdown()
    return prog


def _new_runner(backend: BackendConfig, cluster: ClusterConfig) -> Any:
    return EpisodeRunner.options(  # type: ignore[attr-defined]
        max_concurrency=max(1, cluster.episodes_per_runner), num_cpus=1
    ).remote(backend)


def _dispatch(queue, inflight, runners, load, per_runner):
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        r = min(range(len(runners)), key=load.__getitem__)
        if load[r] >= per_runner:
            return
        _, _, spec, attempt = heapq.heappop(queue)
        inflight[runners[r].run.remote(spec, attempt)] = (spec, attempt, r)
        load[r] += 1


def _result(ref, runners, r, backend, cluster) -> Outcome:
    try:
        out: Outcome = ray.get(ref)
        return out
    except ray.exceptions.RayActorError as e:
        runners[r] = _new_runner(backend, cluster)
        return Outcome(False, kind="actor_died", error=str(e).splitlines()[0][:300])
    except ray.exceptions.RayError as e:
        return Outcome(False, kind=type(e).__name__, error=str(e).splitlines()[0][:300])


def _handle(out, spec, attempt, queue, seq, writer, cluster, prog) -> None:
    if out.ok:
        rows = out.rows
        writer.add({"runs": rows.runs, "agents": rows.agents, "transcripts": rows.transcripts})
        prog.done += 1
        prog.tokens += sum(
            (r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0) for r in rows.runs
        )
        return
    if attempt < cluster.max_attempts:
        prog.retried += 1
        delay = out.retry_after_s or cluster.retry_backoff_s * 2 ** (attempt - 1)
        heapq.heappush(queue, (time.monotonic() + delay, next(seq), spec, attempt + 1))
        return
    rows = failed_rows(spec, attempt, out.kind, out.error)
    writer.add({"runs": rows.runs})
    prog.failed += 1
