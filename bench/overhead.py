"""Benchmark 1, part 2: the executor's orchestration overhead per episode and per agent call,
by N (``python -m bench paper overhead``; the method is in ``bench/paper.py``'s docstring and
BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.common import say, stats

NS = (4, 8, 16, 32, 64, 96, 128, 256)


def spread(specs: Sequence[Any], n: int) -> list[Any]:
    """The planned episodes with N = ``n`` in an order whose every prefix is spread evenly over
    the plan (bit-reversed positions), so a sample of any size covers every block and protocol
    at that N in proportion."""
    pool = [s for s in specs if s.n_agents == n]
    bits = max(1, (len(pool) - 1).bit_length())
    order = sorted(range(len(pool)), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [pool[i] for i in order]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _ray_cpu() -> dict[int, float]:
    """CPU seconds so far of this process's descendants: the local Ray instance this driver
    started (GCS, raylet, the runner actors' workers) and nothing of anyone else's."""
    return {pid: _cpu_s(pid) for pid in _descendants(os.getpid())}


def _pure_worker(specs, warm, counter, ready, go, out) -> None:  # type: ignore[no-untyped-def]
    """A plain process: warm up, then run episodes one at a time until none are left."""
    from agents.backends.sim import SimBackend
    from sweep.episode import run_episode

    backend = SimBackend()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(run_episode(warm, backend))
    ready.put(os.getpid())
    go.wait()
    done = []
    cpu0 = time.process_time()
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        if i >= len(specs):
            break
        t = time.perf_counter()
        loop.run_until_complete(run_episode(specs[i], backend))
        done.append((i, time.perf_counter() - t))
    out.put({"times": done, "cpu_s": time.process_time() - cpu0, "end": time.monotonic()})


def run_pure(specs: Sequence[Any], warm: Any, procs: int) -> dict[str, Any]:
    """The episodes in ``procs`` plain processes (no Ray): wall from the start signal to the
    last process finishing, and the processes' CPU time."""
    ctx = mp.get_context("spawn")
    counter, ready, go, out = ctx.Value("i", 0), ctx.Queue(), ctx.Event(), ctx.Queue()
    ps = [
        ctx.Process(target=_pure_worker, args=(list(specs), warm, counter, ready, go, out))
        for _ in range(procs)
    ]
    for p in ps:
        p.start()
    for _ in ps:
        ready.get(timeout=300)
    t0 = time.monotonic()
    go.set()
    res = [out.get(timeout=3600) for _ in ps]
    for p in ps:
        p.join(30)
    times = [t for r in res for _, t in r["times"]]
    return {
        "wall_s": max(r["end"] for r in res) - t0,
        "cpu_s": sum(r["cpu_s"] for r in res),
        "ideal_s": max(sum(times) / procs, max(times)),
    }


def run_ray(specs: Sequence[Any], warm: Any, typed: Any, scratch: str) -> dict[str, Any]:
    """The episodes through the executor's dispatch loop (runners started and warm first):
    wall from dispatch to the last commit, and the CPU of the driver and of the Ray processes."""
    import ray

    from sweep.execute import RunCounts, _Phase
    from sweep.results.store import BufferedWriter, ResultStore

    cluster = typed.cluster
    shutil.rmtree(scratch, ignore_errors=True)
    writer = BufferedWriter(ResultStore(scratch), cluster.flush_rows, cluster.flush_seconds)
    work = [(s, 1) for s in specs]
    prog = RunCounts(total=len(work))
    phase = _Phase(work, writer, typed.backend, cluster, prog, lambda p: None)
    runners = [slot.runner for pool in phase.pools.values() for slot in pool]
    try:
        ray.get([r.run.remote(warm, 1) for r in runners])  # started and warm
        before, driver0, t0 = _ray_cpu(), time.process_time(), time.monotonic()
        phase.run()
        writer.flush()
        wall = time.monotonic() - t0
        driver = time.process_time() - driver0
        after = _ray_cpu()
    finally:
        for r in runners:
            ray.kill(r)
    ray_cpu = sum(c - before.get(pid, 0.0) for pid, c in after.items())
    return {
        "wall_s": wall,
        "cpu_s": driver + ray_cpu,
        "driver_cpu_s": driver,
        "done": prog.done,
        "failed": prog.failed,
    }


def _calibrate(pool: Sequence[Any], target_s: float, lo: int, hi: int) -> dict[str, Any]:
    """Run ``pool``'s episodes in this process, one at a time, until ``target_s`` of compute
    (at least ``lo``, at most ``hi`` episodes): the sample, its calls and its compute time."""
    from agents.backends.sim import SimBackend
    from sweep.episode import run_episode

    backend = SimBackend()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(run_episode(pool[0], backend))  # warm
    eps, agent, judge, spent = [], 0, 0, 0.0
    for spec in pool[:hi]:
        t = time.perf_counter()
        rows = loop.run_until_complete(run_episode(spec, backend))
        spent += time.perf_counter() - t
        eps.append(spec)
        agent += sum(r["llm_calls"] for r in rows.runs)
        judge += sum(r["judge_calls"] for r in rows.runs)
        if spent >= target_s and len(eps) >= lo:
            break
    loop.close()
    return {"specs": eps, "agent": agent, "judge": judge, "inprocess_s": spent}


def overhead(args: argparse.Namespace) -> dict[str, Any]:
    from sweep.config import build, compose
    from sweep.execute import start_ray
    from sweep.plan import plan

    scratch = tempfile.mkdtemp(prefix="orgsweep-bench-overhead-")
    typed, _ = build(compose(["sweep=paper", f"results_dir={scratch}/r"]))
    specs = plan(typed).specs
    warm = spread(specs, 4)[0]
    started = start_ray(typed.cluster)
    import ray

    cpus = ray.cluster_resources().get("CPU", 1)
    procs = int(typed.cluster.runners or cpus // max(typed.cluster.runner_cpus, 1e-3))
    rows: list[dict[str, Any]] = []
    try:
        for n in (int(x) for x in args.ns.split(",")):
            cal = _calibrate(spread(specs, n), args.target_s, args.min_episodes, args.max_episodes)
            eps, calls = cal["specs"], cal["agent"]
            for r in range(args.repeats):
                load = os.getloadavg()[0]
                m: dict[str, Any] = {}
                for what in ("pure", "ray") if r % 2 == 0 else ("ray", "pure"):
                    if what == "pure":
                        m[what] = run_pure(eps, warm, procs)
                    else:
                        m[what] = run_ray(eps, warm, typed, f"{scratch}/n{n}")
                row = _overhead_row(n, r, eps, cal, m, procs, load)
                rows.append(row)
                say(
                    f"  N={n:3d} [{r}] {len(eps)} episodes, {calls} agent calls: wall ray "
                    f"{row['ray_s']:.2f} s, pure {row['pure_s']:.2f} s -> "
                    f"{row['wall_ms_per_episode']:.1f} ms/episode, "
                    f"{row['wall_ms_per_call']:.3f} ms/call; CPU ray {row['ray_cpu_s']:.2f} s, "
                    f"pure {row['pure_cpu_s']:.2f} s -> {row['cpu_ms_per_episode']:.1f} "
                    f"ms/episode, {row['cpu_ms_per_call']:.3f} ms/call; load {load:.2f}"
                )
    finally:
        if started:
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return {"runners": procs, "rows": rows}


def _overhead_row(n, r, eps, cal, m, procs, load) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    k, calls = len(eps), max(cal["agent"], 1)
    wall = m["ray"]["wall_s"] - m["pure"]["wall_s"]
    cpu = m["ray"]["cpu_s"] - m["pure"]["cpu_s"]
    return {
        "n": n,
        "repeat": r,
        "episodes": k,
        "agent_calls": cal["agent"],
        "judge_calls": cal["judge"],
        "inprocess_s": cal["inprocess_s"],
        "ray_s": m["ray"]["wall_s"],
        "pure_s": m["pure"]["wall_s"],
        "ideal_s": m["pure"]["ideal_s"],
        "ray_cpu_s": m["ray"]["cpu_s"],
        "ray_driver_cpu_s": m["ray"]["driver_cpu_s"],
        "pure_cpu_s": m["pure"]["cpu_s"],
        "wall_ms_per_episode": 1e3 * wall / k,
        "wall_ms_per_call": 1e3 * wall / calls,
        "cpu_ms_per_episode": 1e3 * cpu / k,
        "cpu_ms_per_call": 1e3 * cpu / calls,
        "driver_cpu_ms_per_episode": 1e3 * m["ray"]["driver_cpu_s"] / k,
        "pure_cpu_ms_per_episode": 1e3 * m["pure"]["cpu_s"] / k,
        "pure_cpu_ms_per_call": 1e3 * m["pure"]["cpu_s"] / calls,
        "ray_failed": m["ray"]["failed"],
        "runners": procs,
        "load_before": load,
    }


SUMMARY_KEYS = (
    "ray_s",
    "pure_s",
    "wall_ms_per_episode",
    "wall_ms_per_call",
    "cpu_ms_per_episode",
    "cpu_ms_per_call",
    "driver_cpu_ms_per_episode",
    "pure_cpu_ms_per_episode",
    "pure_cpu_ms_per_call",
    "load_before",
)


def summarise_overhead(rows: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for n in sorted({r["n"] for r in rows}):
        mine = [r for r in rows if r["n"] == n]
        out[n] = {k: stats(r[k] for r in mine) for k in SUMMARY_KEYS}
        out[n]["episodes"] = mine[0]["episodes"]
        out[n]["agent_calls"] = mine[0]["agent_calls"]
    return out
