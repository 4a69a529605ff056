"""Benchmark 5: the paper sweep on cluster.yaml's GPU nodes, simulated, today's deployment vs the
scheduled one.

``python -m bench cluster_sim [--reply-scale 4] [--fail-at 0.4] [--judge deferred] [--json]``

Driven by the real code: the plan (``sweep.plan``), the token estimate over the rendered
prompts (``sweep.tokens``), the per-replica rates and load times (``sweep.cost``), the
deployment (``sweep.schedule``: ``scheduled`` or ``all_at_once``) and the executor's dispatch
order (each model's episodes in ``schedule.longest_first`` order, the runners keeping
``sizing.OVERLAP`` x ``max_num_seqs`` calls in flight per replica). What is simulated is the
cluster, in steps of ``--dt`` seconds:

- an engine per replica: a fluid continuous-batching engine that serves its in-flight
  episodes' token work (uncached prefill + decode, in replica-seconds at ``sweep.cost.rates``)
  processor-sharing, at full speed from ``max_num_seqs`` calls in flight and slower below
  (``batch_speed``; an episode's width: its agents calling at once). Which prompt tokens are
  uncached comes, by default (``--engine cache``), from the prefix-cache engine model of
  ``bench/prefix_cache.py`` (16-token blocks, one LRU pool per replica shared by the episodes
  in flight, the p2 prompt layout) replayed on a sample (``bench/cluster_cache.py``): a
  calibrated hit share per model, not a token-level engine over the 1.6 M calls of the sweep.
  ``--engine estimate`` uses the planner's own share (one unbounded cache per episode);
- nodes follow the schedule: load a model (its load time), serve it, and move on when its queue
  is empty or its planned segment ends and another segment follows; a node with no segment
  left helps a model of its GPU type that still has work (one more load), else it is released;
  all-at-once nodes hold every model to the end, as the executor does today;
- the judge as the planner's schedule has it (``cost.judge``, or ``--judge``): its replicas
  judge each episode once its agents are done (committed), waiting when none is ready; deferred,
  its segments start after the agents' on their nodes (the judge's own pass); inline, it is
  served from the start (on nodes of its own in the scheduled deployment, beside every model in
  today's);
- a node lost mid-sweep (``--fail-at``, a share of the planned makespan): its in-flight
  episodes start over elsewhere, and a replacement node (billed from the loss, ``--boot-s`` to
  come up) takes over its remaining segments.

Reported: makespan, billed GPU-hours (node up time x GPUs), busy GPU-hours (replica work x GPUs)
and their share, for both deployments and for what a launch deploys (the executor's phases,
simulated by bench/cluster_phases.py with the same engine), with and without the node loss,
beside the planner's figures. Episodes with a swapped-in model (swap_model shock) run their
swapped agents' calls on that model's replicas as a job of their own, as the planner counts
them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from bench.cluster_cache import engine_shares
from bench.cluster_engine import Item, Replica
from bench.cluster_phases import PhasedCluster
from sweep import cost, schedule, sizing, tokens
from sweep.estimate import CostEstimate, estimate
from sweep.plan import plan
from sweep.plan_cost import load_for_plan
from sweep.schedule import Schedule, Segment
from sweep.spec import EpisodeSpec

OVERRIDES = ["sweep=paper", "backend=vllm", "cluster=ray"]


@dataclass
class Node:
    id: int
    gpu: str
    gpus: int
    segments: deque[Segment]
    up_s: float = 0.0
    down_s: float | None = None
    replicas: list[Replica] = field(default_factory=list)
    active: list[Segment] = field(default_factory=list)  # what it serves now
    planned_end: float = 0.0


class Cluster:
    """The time-stepped simulation of one deployment (module docstring)."""

    def __init__(self, sched: Schedule, queues: Mapping[str, deque[Item]], ctx: Mapping[str, Any]):
        self.ctx = ctx
        self.queues = {m: deque(Item(i.key, i.work, i.width) for i in q) for m, q in queues.items()}
        self.judge, self.today = ctx["judge"], sched.kind != "scheduled"
        self.pending_judge: deque[Item] = self.queues.pop(self.judge, deque())
        self.judge_work = {i.key: i for i in self.pending_judge}
        self.judge_queue: deque[Item] = deque()
        self.remaining = {m: len(q) for m, q in self.queues.items()}
        self.remaining[self.judge] = len(self.pending_judge)
        self.nodes: list[Node] = []
        by_node: dict[int, list[Segment]] = {}
        for s in sorted(sched.segments, key=lambda s: s.start_s):
            by_node.setdefault(s.node, []).append(s)
        for n, segs in by_node.items():
            node = Node(n, segs[0].gpu, sched.node_gpus[n], deque(segs), up_s=segs[0].start_s)
            self.nodes.append(node)
        self.t, self.busy_gpu_s = 0.0, 0.0

    def run(self, dt: float, fail_at_s: float | None, boot_s: float) -> dict[str, float]:
        started = {n.id: False for n in self.nodes}
        while any(self.remaining.values()):
            if fail_at_s is not None and self.t >= fail_at_s:
                self._fail(boot_s)
                fail_at_s = None
            for node in self.nodes:
                if node.down_s is None and not started.get(node.id, True) and self.t >= node.up_s:
                    started[node.id] = True
                    self._start_next(node)
                elif node.down_s is None and started.get(node.id, True):
                    self._advance(node)
            for node in self.nodes:
                for r in node.replicas:
                    if self.t >= r.ready_s:
                        done, busy = r.step(dt, self._queue(r.model))
                        self.busy_gpu_s += busy * r.gpus
                        for item in done:
                            self._finished(r.model, item)
            self.t += dt
            if self.t > 1e7:
                raise RuntimeError("simulation does not finish: a model has no node to run on")
        for node in self.nodes:
            if node.down_s is None:
                node.down_s = self.t
        billed = sum((n.down_s - n.up_s) * n.gpus for n in self.nodes if n.down_s is not None)
        return {
            "makespan_h": self.t / 3600,
            "billed_gpu_h": billed / 3600,
            "busy_gpu_h": self.busy_gpu_s / 3600,
            "busy_share": self.busy_gpu_s / billed if billed else 0.0,
            "nodes": len(self.nodes),
        }

    def _start_next(self, node: Node, delay_s: float = 0.0) -> None:
        """Load the node's next segment (all of them at once in today's deployment)."""
        segs = list(node.segments) if self.today else [node.segments[0]]
        for _ in segs:
            node.segments.popleft()
        for seg in segs:
            self._start(node, seg, delay_s)

    def _start(self, node: Node, seg: Segment, delay_s: float = 0.0) -> None:
        m = self.ctx["models"][seg.model]
        ready = self.t + delay_s + seg.load_s
        node.replicas += [
            Replica(seg.model, node.id, seg.gpus // seg.replicas, m.max_num_seqs, ready)
            for _ in range(seg.replicas)
        ]
        node.active.append(seg)
        # A late segment still gets its planned length (its share of the model's work).
        node.planned_end = self.t + delay_s + (seg.end_s - seg.start_s)

    def _queue(self, model: str) -> deque[Item]:
        return self.judge_queue if model == self.judge else self.queues[model]

    def _advance(self, node: Node) -> None:
        """Drain and move on: the model's work is gone, or its planned end came and more follow."""
        if self.today:
            return
        current = {r.model for r in node.replicas}
        if not current:
            return
        model = next(iter(current))
        no_work = not self._queue(model) and (model != self.judge or not self.pending_judge)
        planned_over = self.t >= node.planned_end and bool(node.segments)
        if no_work or planned_over:
            for r in node.replicas:
                r.draining = True
        if all(r.draining and not r.inflight for r in node.replicas):
            node.replicas, node.active = [], []
            if node.segments:
                self._start_next(node)
            elif (extra := self._help(node)) is not None:
                self._start(node, extra)
            else:
                node.down_s = self.t

    def _help(self, node: Node) -> Segment | None:
        for model, q in self.queues.items():
            s = self.ctx["segment_of"].get(model)
            if q and s is not None and s.gpu == node.gpu:
                return Segment(
                    node.id, node.gpu, model, s.replicas, s.gpus, self.t, s.load_s, self.t
                )
        js = self.ctx["segment_of"].get(self.judge)
        if (self.judge_queue or self.pending_judge) and js is not None and js.gpu == node.gpu:
            return Segment(
                node.id, node.gpu, self.judge, js.replicas, js.gpus, self.t, js.load_s, self.t
            )
        return None

    def _finished(self, model: str, item: Item) -> None:
        self.remaining[model] -= 1
        if model != self.judge:
            j = self.judge_work.get(item.key)
            if j is not None and self.ctx["last_part"][item.key] == model:
                self.judge_queue.append(j)
                self.pending_judge.remove(j)

    def _fail(self, boot_s: float) -> None:
        """The node serving the most queued work is lost: its in-flight work starts over, and a
        replacement (billed from now, up after ``boot_s``) reloads what it served and takes its
        plan."""
        alive = [n for n in self.nodes if n.down_s is None and n.replicas]
        target = max(alive, key=lambda n: sum(len(self._queue(r.model)) for r in n.replicas))
        target.down_s = self.t
        for r in target.replicas:
            for i in r.inflight:
                i.done = 0.0
                self._queue(r.model).appendleft(i)
        plan = deque([*target.active, *target.segments])
        new = Node(1000 + target.id, target.gpu, target.gpus, plan, up_s=self.t)
        target.replicas, target.active, target.segments = [], [], deque()
        self.nodes.append(new)
        self._start_next(new, boot_s)


def episode_items(
    specs: Sequence[EpisodeSpec],
    shapes: Mapping[tokens.Shape, tokens.ShapeTokens],
    e: CostEstimate,
    s: cost.CostSettings,
    cfg_models: Mapping[str, Any],
    shares: Mapping[str, float] | None = None,
) -> tuple[dict[str, deque[Item]], dict[int, str]]:
    """Each model's work items in dispatch (plan) order; which model finishes each episode.
    ``shares``: prefix-cache hit share per model name (``"judge"`` for the judge) in place of
    the estimate's (``bench.cluster_cache.engine_shares``); models it lacks keep the estimate's."""
    rows = {(m.model, m.part): m for m in e.models}
    queues: dict[str, deque[Item]] = {}
    last: dict[int, str] = {}
    for key, spec in enumerate(specs):  # specs in dispatch order
        st = shapes[tokens.shape(spec)]
        width = sizing.width(spec)
        parts = [(n, "agents", t) for n, t in st.agents.items()] + [
            (spec.judge.model.name, "judge", st.judge)
        ]
        last[key] = spec.model.name
        for name, part, t in parts:
            row = rows[(name, part)]
            model = cfg_models[name] if part == "agents" else spec.judge.model
            r = cost.rates(model, s.gpu(row.gpu), s)
            share = (shares or {}).get(name if part == "agents" else "judge", row.cached_share)
            work = r.replica_s(t.prompt * (1 - share), t.completion)
            queues.setdefault(name if part == "agents" else f"judge:{name}", deque()).append(
                Item(key, work, width if part == "agents" else 1)
            )
    return queues, last


def _estimated_shares(e: CostEstimate) -> dict[str, float]:
    return {(m.model if m.part == "agents" else "judge"): m.cached_share for m in e.models}


def _engine_shares(
    typed: Any,
    p: Any,
    s: cost.CostSettings,
    order: Sequence[EpisodeSpec],
    estimated: Mapping[str, float],
) -> dict[str, float]:
    """The engine model's hit shares, measured on sim-length prompts. At another reply scale,
    the engine model's uncached tokens relative to the estimate's (both at sim length) scale
    the estimate's at that reply scale: 1 - (1 - est_s) x (1 - engine_1) / (1 - est_1)."""
    measured = engine_shares(order, typed.models, typed.judge.model, s)
    if s.reply_scale == 1.0:
        return measured
    base = _estimated_shares(estimate(typed, p, dataclasses.replace(s, reply_scale=1.0)))
    return {
        m: 1 - (1 - estimated[m]) * (1 - v) / max(1 - base[m], 1e-9)
        for m, v in measured.items()
        if m in estimated and m in base
    }


def simulate(
    reply_scale: float,
    fail_at: float | None,
    dt: float,
    boot_s: float,
    engine: str = "cache",
    judge: str | None = None,
) -> dict[str, Any]:
    """``engine``: ``cache`` (the prefix-cache engine model's hit shares, bench.cluster_cache)
    or ``estimate`` (the planner's own shares). ``judge``: ``cost.judge`` (None: the config's
    default), which the planner's scheduled deployment, and so the simulated one, follows."""
    extra = [] if judge is None else [f"cost.judge={judge}"]
    typed, _, cfg = load_for_plan([*OVERRIDES, f"cost.reply_scale={reply_scale}", *extra])
    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict)
    s = cost.settings(raw["cost"])
    p = plan(typed)
    t0 = time.perf_counter()
    e = estimate(typed, p, s)
    shapes = tokens.estimate(p.specs, s.reply_scale, s.samples, s.cache_block_tokens)
    order = [spec for spec, _ in schedule.longest_first([(x, 1) for x in p.specs])]
    plan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimated = _estimated_shares(e)
    shares = _engine_shares(typed, p, s, order, estimated) if engine == "cache" else {}
    queues, last = episode_items(order, shapes, e, s, typed.models, shares)
    judge = f"judge:{typed.judge.model.name}"
    out: dict[str, Any] = {
        "reply_scale": reply_scale,
        "engine": engine,
        "judge": s.judge,
        "plan_s": plan_s,
        "cache_s": time.perf_counter() - t0,
        "cache_share": {
            m: {"estimate": v, "engine": shares.get(m, v)} for m, v in sorted(estimated.items())
        },
    }
    for label, sched in (("all_at_once", e.today), ("scheduled", e.scheduled)):
        assert sched is not None
        segs = tuple(
            Segment(
                g.node,
                g.gpu,
                judge if g.model == typed.judge.model.name else g.model,
                g.replicas,
                g.gpus,
                g.start_s,
                g.load_s,
                g.end_s,
            )
            for g in sched.segments
        )
        sched = Schedule(
            sched.kind, segs, sched.node_gpus, sched.work_gpu_s, sched.lower_bound_gpu_s
        )
        ctx = {
            "judge": judge,
            "models": {**typed.models, judge: typed.judge.model},
            "segment_of": {g.model: g for g in segs},
            "segments": segs,
            "last_part": last,
        }
        out[label] = _runs(
            sched, lambda sched=sched, ctx=ctx: Cluster(sched, queues, ctx), dt, fail_at, boot_s
        )
    out["executor"] = _executor_runs(e, typed, order, queues, last, judge, dt, fail_at, boot_s)
    return out


def _executor_runs(
    e: CostEstimate,
    typed: Any,
    order: Sequence[EpisodeSpec],
    queues: Mapping[str, deque[Item]],
    last: Mapping[int, str],
    judge: str,
    dt: float,
    fail_at: float | None,
    boot_s: float,
) -> dict[str, Any]:
    """The executor's phases (``e.phases``), planned and simulated (bench/cluster_phases.py)."""
    x = e.executed
    assert x is not None
    jobs = {
        m.model: schedule.Job(m.model, m.gpu, m.gpus_per_replica, m.gpu_s, m.load_s)
        for m in e.models
        if m.gpu
    }
    ctx = {
        "judge": judge,
        "judge_model": typed.judge.model.name,
        "models": {**typed.models, typed.judge.model.name: typed.judge.model},
        "last_part": last,
    }
    node_gpus = typed.cluster.gpus_per_node
    return _runs(
        x, lambda: PhasedCluster(e.phases, queues, order, jobs, ctx, node_gpus), dt, fail_at, boot_s
    )


def _runs(
    s: Schedule, sim: Callable[[], Any], dt: float, fail_at: float | None, boot_s: float
) -> dict[str, Any]:
    """The planner's figures for ``s`` and a fresh ``sim()``'s run without and with the node
    lost at ``fail_at`` of ``s``'s makespan."""
    runs: dict[str, Any] = {
        "planner": {
            "makespan_h": s.makespan_s / 3600,
            "billed_gpu_h": s.billed_gpu_s / 3600,
            "busy_gpu_h": s.work_gpu_s / 3600,
            "busy_share": s.busy_share,
            "lower_bound_gpu_h": s.lower_bound_gpu_s / 3600,
        }
    }
    for case, fail in (("sim", None), ("sim_node_lost", fail_at)):
        t1 = time.perf_counter()
        fail_s = None if fail is None else fail * s.makespan_s
        runs[case] = sim().run(dt, fail_s, boot_s)
        runs[case]["sim_s"] = time.perf_counter() - t1
    return runs


def table(r: Mapping[str, Any]) -> str:
    rows = [
        f"judge: cost.judge={r['judge']} (the scheduled deployment's)",
        "",
        "| deployment | figures | makespan h | billed GPU-h | busy GPU-h | busy share |",
        "|---|---|---|---|---|---|",
    ]
    for label in ("all_at_once", "scheduled", "executor"):
        for case in ("planner", "sim", "sim_node_lost"):
            f = r[label][case]
            rows.append(
                f"| {label} | {case} | {f['makespan_h']:.2f} | {f['billed_gpu_h']:.1f} | "
                f"{f['busy_gpu_h']:.1f} | {f['busy_share']:.2f} |"
            )
    rows += ["", "| model | cache share, estimate | cache share, engine model |", "|---|---|---|"]
    for m, c in r["cache_share"].items():
        rows.append(f"| {m} | {c['estimate']:.3f} | {c['engine']:.3f} |")
    return "\n".join(rows)


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench cluster_sim", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--reply-scale", type=float, default=1.0, help="cost.reply_scale (4: longer replies)"
    )
    ap.add_argument(
        "--fail-at", type=float, default=0.4, help="node lost at this share of the makespan"
    )
    ap.add_argument("--dt", type=float, default=10.0, help="simulation step, seconds")
    ap.add_argument("--boot-s", type=float, default=300.0, help="seconds a replacement node takes")
    ap.add_argument(
        "--engine",
        choices=("cache", "estimate"),
        default="cache",
        help="prefix-cache hit shares: the engine model's on a sample (bench/cluster_cache.py) "
        "or the planner's estimate",
    )
    ap.add_argument(
        "--judge",
        choices=("inline", "deferred"),
        default=None,
        help="cost.judge for the planner's scheduled deployment (default: the config's)",
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(list(argv))
    r = simulate(a.reply_scale, a.fail_at, a.dt, a.boot_s, a.engine, a.judge)
    print(json.dumps(r, indent=2) if a.json else table(r))
    return 0


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.exit(main(sys.argv[1:]))
