"""The Ray executor: runner actors and the driver's dispatch loop. (Ray is imported here and,
for Ray Serve deployments, in agents/backends/vllm.py.)

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
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ray

from agents.backends import backend_hook, make_backend
from agents.backends.chat import InfraError, SetupError
from agents.backends.options import Runtime
from sweep.config import BackendConfig, ClusterConfig
from sweep.episode import EpisodeRows, failed_rows, run_episode
from sweep.errors import UserError
from sweep.judge_pass import JudgePass
from sweep.phases import Phase, by_cap, work_key
from sweep.ray_leftovers import marked, stop_leftovers
from sweep.results.store import BufferedWriter
from sweep.retry import retry_delay
from sweep.schedule import longest_first
from sweep.signals import handle_sigterm
from sweep.sizing import episodes_per_runner
from sweep.spec import EpisodeSpec

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

    def __init__(self, backend: BackendConfig, runtime: Runtime | None = None):
        self.name = backend.name
        # runtime (e.g. the route a deployment listens on) beside, never inside, the options
        self.backend = make_backend(backend.name, backend.options, runtime)

    async def run(self, spec: EpisodeSpec, attempt: int, judge_now: bool = True) -> Outcome:
        try:
            rows = await run_episode(spec, self.backend, attempt, judge_now)
            node = ray.get_runtime_context().get_node_id()
            for r in rows.runs:
                r["backend"] = self.name
                r["node"] = node
            return Outcome(True, rows)
        except InfraError as e:
            return Outcome(False, kind=e.kind, error=str(e), retry_after_s=e.retry_after_s)
        except Exception as e:  # a poison episode must not stop the sweep
            tb = traceback.format_exc(limit=3).strip().splitlines()
            return Outcome(False, kind=type(e).__name__, error=f"{e} | {' / '.join(tb[-3:])}")

    async def close(self) -> None:
        await self.backend.aclose()


@dataclass
class RunCounts:
    total: int
    done: int = 0
    failed: int = 0
    retried: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0  # episodes running now
    slots: int = 0  # runners x episodes per runner of the current phase
    failed_kinds: Counter[str] = field(default_factory=Counter)  # error kind -> failed episodes
    judged: int = 0  # steps the deferred judge's pass scored (sweep/judge_pass.py)
    judge_lost: int = 0  # steps it left unscored after infrastructure errors (the next launch)


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
        handle_sigterm()  # ray.init replaced the handler
        return False
    # Ray's Unix socket paths must fit in 107 bytes: under a long TMPDIR, use a short root.
    if "RAY_TMPDIR" not in os.environ and len(tempfile.gettempdir()) > 40:
        os.environ["RAY_TMPDIR"] = "/tmp"
    # address="local": always a fresh instance of our own, never someone else's on this host.
    # Agents of a kill -9'd launch's instance outlive it by a minute: stop them (by pid) first.
    stop_leftovers()
    try:
        with marked():  # its processes name this driver, for the next launch's stop_leftovers
            ray.init(address="local", num_cpus=cluster.num_cpus or os.cpu_count() or 2, **kwargs)
    except Exception as e:  # e.g. "node timed out during startup" on an overloaded machine
        raise SetupError(f"could not start a local Ray instance: {e}; retry the launch") from e
    handle_sigterm()  # ray.init replaced the handler
    return True


def execute(
    work: Sequence[tuple[EpisodeSpec, int]],
    writer: BufferedWriter,
    backend: BackendConfig,
    cluster: ClusterConfig,
    on_progress: Callable[[RunCounts], None] = lambda p: None,
    plan: Sequence[Phase] | None = None,
    judge_pass: JudgePass | None = None,
) -> RunCounts:
    """Run ``(spec, first_attempt)`` pairs phase by phase (``sweep.phases``: ``plan``, e.g. from
    the deployment schedule, else ``cluster.max_concurrent_models`` models per phase with the
    catalogue's replicas); returns the counts. With ``judge_pass`` (``cost.judge=deferred``),
    the episodes run without their judge and the pass judges every committed deferred step
    last, in a deployment of its own (sweep/judge_pass.py)."""
    prog = RunCounts(total=len(work))
    if not work and judge_pass is None:
        return prog
    work = longest_first(work)  # long sequential episodes first: phases end without a tail
    if plan is None:
        agents = list(dict.fromkeys(spec.model.name for spec, _ in work))
        plan = by_cap(agents, cluster.max_concurrent_models)
    started = start_ray(cluster)
    try:
        for phase, part in split(work, plan):
            log.info("phase: %s", phase.describe())
            replicas = dict(phase.replicas)
            run = _Phase(part, writer, backend, cluster, prog, on_progress, replicas)
            run.judge_now = judge_pass is None
            run.run()
        if judge_pass is not None:
            writer.flush()  # the pass reads the committed deliverables
            recount = lambda: 1  # noqa: E731  (the pass runs in this process)
            judged = judge_pass.run(backend, recount)
            prog.judged, prog.judge_lost = judged.scored, judged.infra_failed
    finally:
        writer.flush()
        on_progress(prog)
        if started:
            ray.shutdown()
    return prog


def split_key(plan: Sequence[Phase]) -> Callable[[EpisodeSpec], int]:
    """Which phase of ``plan`` runs an episode: the one naming its work key
    (``phases.work_key``: an episode that swaps in another model goes to the phase naming
    ``model+replacement``), else the one naming its model. An episode of a model no phase names
    is refused: the plan is stale."""
    where = {m: i for i, p in enumerate(plan) for m in p.agents}

    def phase_of(spec: EpisodeSpec) -> int:
        i = where.get(work_key(spec), where.get(spec.model.name))
        if i is None:
            raise UserError(
                f"no deployment phase serves model {spec.model.name!r}; the phase plan was "
                "made for other episodes (re-plan: orgsweep plan, then launch again)"
            )
        return i

    return phase_of


def split(
    work: Sequence[tuple[EpisodeSpec, int]], plan: Sequence[Phase]
) -> list[tuple[Phase, list[tuple[EpisodeSpec, int]]]]:
    """Each phase with its episodes (``split_key``), in ``work``'s order; phases with none are
    skipped."""
    phase_of = split_key(plan)
    parts: list[list[tuple[EpisodeSpec, int]]] = [[] for _ in plan]
    for w in work:
        parts[phase_of(w[0])].append(w)
    return [(p, part) for p, part in zip(plan, parts, strict=True) if part]


@dataclass
class _Slot:
    runner: Any
    load: int = 0
    alive: bool = True


class _Phase:
    """Bounded dispatch of one phase's episodes over runner pools (one per model when
    ``cluster.place_by_model``, else one shared pool)."""

    def __init__(self, work, writer, backend, cluster, prog, on_progress, replicas=None):
        self.writer, self.cluster = writer, cluster
        self.replicas: dict[str, int] = dict(replicas or {})  # the phase's, else the catalogue's
        self.judge_now = True  # False: the judge's pass comes last (cost.judge=deferred)
        self.prog, self.on_progress = prog, on_progress
        self.queue: list[tuple[float, int, EpisodeSpec, int]] = [
            (0.0, i, spec, attempt) for i, (spec, attempt) in enumerate(work)
        ]
        heapq.heapify(self.queue)
        self.seq = itertools.count(len(self.queue))
        self.inflight: dict[ray.ObjectRef, tuple[EpisodeSpec, int, _Slot]] = {}
        specs = [spec for spec, _ in work]
        self.total = self._runner_count(ray.cluster_resources())
        self.serving: Any = None
        self.backend = backend
        self.runtime = self._prepare(backend, specs)
        self.per_runner = self.cluster.episodes_per_runner or episodes_per_runner(
            specs, backend.name, backend.options, self.total, self.replicas
        )
        log.info("%d runners x %d episodes in flight", self.total, self.per_runner)
        prog.slots = self.total * self.per_runner
        try:
            self.pools = self._pools(specs)
        except BaseException:
            self._stop_serving()
            raise

    def _prepare(self, backend: BackendConfig, specs: list[EpisodeSpec]) -> Runtime | None:
        """What the runners need beside the user's options, from the backend's
        ``prepare_runners`` (``agents.backends``): e.g. ``vllm`` first deploys this phase's
        models on Ray Serve LLM (once, not per runner) with the phase's replicas, and the runner
        pool is then sized from the CPUs the replicas (and Serve's controller and proxies)
        left."""
        prepare = backend_hook(backend.name, "prepare_runners")
        if prepare is None:
            return None
        recount = lambda: self._runner_count(ray.available_resources())  # noqa: E731
        setup = prepare(specs, backend.options, self.total, recount, self.replicas)
        self.serving, self.total = setup.serving, setup.runners
        return setup.runtime

    def _runner_count(self, resources: dict[str, float]) -> int:
        """``cluster.runners``, or as many runners as ``resources`` has CPUs for (at least 1)."""
        cpus = resources.get("CPU", 1.0)
        fit = int(cpus // max(self.cluster.runner_cpus, 1e-3))
        if self.cluster.runners:
            if self.cluster.runners > fit:
                log.warning(
                    "cluster.runners=%d need %.4g CPUs but %.4g are free; the rest wait for "
                    "CPUs (an autoscaler may add them). Lower cluster.runners or "
                    "cluster.runner_cpus if no nodes are coming.",
                    self.cluster.runners,
                    self.cluster.runners * self.cluster.runner_cpus,
                    cpus,
                )
            return self.cluster.runners
        return max(1, fit)

    def _stop_serving(self) -> None:
        if self.serving is not None:
            self.serving.shutdown()
            self.serving = None

    def _pools(self, specs: list[EpisodeSpec]) -> dict[str, list[_Slot]]:
        """pool key ("*" or a model name) -> runner slots."""
        total = self.total
        if not self.cluster.place_by_model:
            return {"*": [_Slot(self._runner(None)) for _ in range(total)]}
        counts = Counter(s.model.name for s in specs)
        have = ray.cluster_resources()
        missing = [m for m in counts if f"model:{m}" not in have]
        if missing:
            raise UserError(
                "cluster.place_by_model=true but no node offers "
                + ", ".join(f"'model:{m}'" for m in missing)
                + "; add these custom resources to the GPU nodes (cluster.yaml) or set "
                "cluster.place_by_model=false"
            )
        n = sum(counts.values())
        return {
            m: [_Slot(self._runner(m)) for _ in range(max(1, round(total * c / n)))]
            for m, c in counts.items()
        }

    def _runner(self, model: str | None) -> Any:
        opts: dict[str, Any] = {
            "max_concurrency": self.per_runner,
            "num_cpus": self.cluster.runner_cpus,
        }
        if model is not None:
            opts["resources"] = {f"model:{model}": 0.001}
        runner = EpisodeRunner.options(**opts)  # type: ignore[attr-defined]
        return runner.remote(self.backend, self.runtime)

    def run(self) -> None:
        try:
            while self.queue or self.inflight:
                self._dispatch()
                if not self.inflight:
                    time.sleep(min(1.0, max(0.0, self.queue[0][0] - time.monotonic())))
                    continue
                refs = list(self.inflight)
                ready, _ = ray.wait(refs, num_returns=1, timeout=1.0)
                if ready:
                    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in ready:
                    self._collect(ref)
                if self.writer.due():
                    self.writer.flush()
                self.prog.in_flight = len(self.inflight)
                self.on_progress(self.prog)
        finally:
            for ref in self.inflight:
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # best effort: the actor may be gone already
                    continue
            self._stop_serving()

    def _dispatch(self) -> None:
        now = time.monotonic()
        blocked: list[tuple[float, int, EpisodeSpec, int]] = []
        while self.queue and self.queue[0][0] <= now:
            item = heapq.heappop(self.queue)
            key = item[2].model.name if self.cluster.place_by_model else "*"
            slot = min((s for s in self.pools[key] if s.alive), key=lambda s: s.load)
            if slot.load >= self.per_runner:
                blocked.append(item)
                if len(blocked) > 4 * len(self.pools):
                    break
                continue
            _, _, spec, attempt = item
            ref = slot.runner.run.remote(spec, attempt, self.judge_now)
            self.inflight[ref] = (spec, attempt, slot)
            slot.load += 1
        for item in blocked:
            heapq.heappush(self.queue, item)

    def _collect(self, ref: ray.ObjectRef) -> None:
        spec, attempt, slot = self.inflight.pop(ref)
        slot.load -= 1
        try:
            out: Outcome = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            self._lost(slot, spec)
            out = Outcome(False, kind="actor_died", error=str(e).splitlines()[0][:300])
        except ray.exceptions.RayError as e:
            out = Outcome(False, kind=type(e).__name__, error=str(e).splitlines()[0][:300])
        self._handle(out, spec, attempt)

    def _lost(self, slot: _Slot, spec: EpisodeSpec) -> None:
        """A runner died (its node is gone): retire it. A replacement is made only when its
        pool has no runner left, since after a node loss there may be no room for one."""
        slot.alive = False
        key = spec.model.name if self.cluster.place_by_model else "*"
        pool = self.pools[key]
        if not any(s.alive for s in pool):
            pool.append(_Slot(self._runner(None if key == "*" else key)))

    def _handle(self, out: Outcome, spec: EpisodeSpec, attempt: int) -> None:
        prog = self.prog
        if out.ok and out.rows is not None:
            rows = out.rows
            self.writer.add(
                {"runs": rows.runs, "agents": rows.agents, "transcripts": rows.transcripts}
            )
            prog.done += 1
            prog.tokens += sum(
                (r.get("prompt_tokens") or 0) + (r.get("completion_tokens") or 0) for r in rows.runs
            )
            return
        c = self.cluster
        delay = retry_delay(attempt, c.max_attempts, c.retry_backoff_s, out.retry_after_s)
        if delay is not None:
            prog.retried += 1
            heapq.heappush(
                self.queue, (time.monotonic() + delay, next(self.seq), spec, attempt + 1)
            )
            return
        self.writer.add({"runs": failed_rows(spec, attempt, out.kind, out.error).runs})
        prog.failed += 1
        prog.failed_kinds[out.kind] += 1
