"""Benchmark 1, the full ``paper`` sweep on the sim backend, and orchestration overhead by N.

``python -m bench paper run --results DIR`` runs ``bench/paper_sweep.sh`` (``/usr/bin/time -v
orgsweep launch sweep=paper results_dir=DIR --no-progress``, logs next to DIR) and then
``figures``. ``python -m bench paper figures --results DIR --time-log DIR/../err.log`` reads a
finished run: wall time, episodes/s, agent calls/s (sum of ``runs.llm_calls`` / wall), the
driver's peak RSS (``time -v`` sees the driver process only, not Ray's runner processes).

``python -m bench paper overhead`` measures the executor's overhead per episode and per agent
call for each N of the paper sweep, on a sample of that N's planned episodes:

- **through Ray**: the executor's own ``_Phase`` (the dispatch loop ``execute`` runs, with the
  paper's cluster config: one runner per CPU, ``episodes_per_runner`` in flight each) runs the
  sample on a local Ray instance and commits it to a scratch results directory; the clock runs
  from dispatch to the last commit. Ray start-up and runner start-up are left out (paid once per
  sweep, not per episode), and each runner first runs one episode so that lazy imports are warm;
- **pure compute**: the same episodes run by ``sweep.episode.run_episode`` directly, one at a
  time, in as many plain processes as there are runners (a shared counter hands out episodes), on
  the sim backend; the clock runs from a start signal to the last process finishing;
- overhead = wall(Ray) - wall(pure), per episode and per agent call of the sample. The two are
  measured back to back, alternating which goes first, so both see the same machine load, and
  the median over ``--repeats`` is reported. ``cpu_s`` (the pure processes' CPU time) and
  ``ideal_s`` = max(sum of episode times / runners, longest episode) are recorded as well.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import fmt, record, say, stats, uptime_line

NS = (4, 8, 16, 32, 64, 96, 128, 256)
HERE = Path(__file__).resolve().parent


# ---- figures of a finished run -------------------------------------------------------------


def parse_time_v(text: str) -> dict[str, float]:
    """Wall, user, system seconds and peak RSS (MiB) from ``/usr/bin/time -v`` output."""
    out: dict[str, float] = {}
    m = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        h, mnt, s = m.groups()
        out["wall_s"] = int(h or 0) * 3600 + int(mnt) * 60 + float(s)
    for key, label in (("user_s", "User time"), ("sys_s", "System time")):
        m = re.search(rf"{label} \(seconds\): ([\d.]+)", text)
        if m:
            out[key] = float(m.group(1))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["driver_peak_rss_mib"] = int(m.group(1)) / 1024
    m = re.search(r"Exit status: (\d+)", text)
    if m:
        out["exit_status"] = int(m.group(1))
    return out


def figures(results: str, time_log: str) -> dict[str, Any]:
    import polars as pl

    from analysis.results import load

    t = parse_time_v(Path(time_log).read_text())
    runs = load(results, include_failed=True).runs
    total = (
        runs.select(
            pl.col("episode_id").n_unique().alias("episodes"),
            pl.len().alias("task_runs"),
            (pl.col("status") == "failed").sum().alias("failed_runs"),
            pl.col("llm_calls").sum().alias("agent_calls"),
            pl.col("judge_calls").sum().alias("judge_calls"),
            (pl.col("prompt_tokens").sum() + pl.col("completion_tokens").sum()).alias(
                "agent_tokens"
            ),
            pl.col("finished_at").min().alias("first"),
            pl.col("finished_at").max().alias("last"),
        )
        .collect()
        .row(0, named=True)
    )
    by_n = (
        runs.group_by("n_agents")
        .agg(
            pl.col("episode_id").n_unique().alias("episodes"),
            pl.col("llm_calls").sum().alias("agent_calls"),
        )
        .sort("n_agents")
        .collect()
    )
    wall = t["wall_s"]
    span = (total["last"] - total["first"]).total_seconds()
    out = {
        **t,
        **{k: v for k, v in total.items() if k not in ("first", "last")},
        "episode_span_s": span,  # first to last committed episode (no start-up, no summary)
        "episodes_per_s": total["episodes"] / wall,
        "agent_calls_per_s": total["agent_calls"] / wall,
        "calls_per_s_with_judge": (total["agent_calls"] + total["judge_calls"]) / wall,
        "driver_cpu_share": (t.get("user_s", 0) + t.get("sys_s", 0)) / wall,
        "by_n": by_n.to_dicts(),
    }
    return out


def _print_figures(f: dict[str, Any]) -> None:
    say(
        f"  wall {f['wall_s']:.1f} s ({f['episode_span_s']:.1f} s first-to-last commit); "
        f"{f['episodes']} episodes ({f['task_runs']} task runs, {f['failed_runs']} failed); "
        f"{f['episodes_per_s']:.1f} episodes/s; {f['agent_calls']:,} agent calls = "
        f"{f['agent_calls_per_s']:.0f} agent calls/s ({f['calls_per_s_with_judge']:.0f} with "
        f"judge calls); driver peak RSS {f['driver_peak_rss_mib']:.0f} MiB (driver only), "
        f"driver CPU {f.get('user_s', 0) + f.get('sys_s', 0):.0f} s"
    )


# ---- overhead by N ------------------------------------------------------------------------


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

    from sweep.execute import Progress, _Phase
    from sweep.store import BufferedWriter, ResultStore

    cluster = typed.cluster
    shutil.rmtree(scratch, ignore_errors=True)
    writer = BufferedWriter(ResultStore(scratch), cluster.flush_rows, cluster.flush_seconds)
    work = [(s, 1) for s in specs]
    prog = Progress(total=len(work))
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


# ---- entry points -----------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench paper", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the paper sweep (bench/paper_sweep.sh), then figures")
    run.add_argument("--results", required=True, help="a new results directory")
    run.add_argument("overrides", nargs="*", help="extra launch overrides (sweep.limit=200)")
    fig = sub.add_parser("figures", help="figures of a finished paper run")
    fig.add_argument("--results", required=True)
    fig.add_argument("--time-log", required=True, help="the /usr/bin/time -v output")
    fig.add_argument("--note", default="", help="free text kept with the record (e.g. load)")
    ov = sub.add_parser("overhead", help="orchestration overhead per episode and call, by N")
    ov.add_argument("--ns", default=",".join(map(str, NS)))
    ov.add_argument(
        "--target-s",
        type=float,
        default=4.0,
        help="sample size per N: episodes worth this much in-process compute",
    )
    ov.add_argument("--min-episodes", type=int, default=16)
    ov.add_argument("--max-episodes", type=int, default=400)
    ov.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    if args.cmd == "run":
        results = os.path.abspath(args.results)
        subprocess.run(["bash", str(HERE / "paper_sweep.sh"), results, *args.overrides], check=True)
        args.time_log = os.path.join(os.path.dirname(results), "err.log")
        args.note = Path(os.path.dirname(results), "load.log").read_text()
        args.cmd = "figures"
    if args.cmd == "figures":
        say(f"paper sweep figures: {args.results}; {uptime_line()}")
        f = figures(args.results, args.time_log)
        _print_figures(f)
        path = record(
            "paper",
            {"results": os.path.abspath(args.results), "figures": f, "note": args.note},
        )
        say(f"appended to {path}")
        return 0

    say(
        f"paper overhead by N: {args.ns}, samples of ~{args.target_s:g} s compute, "
        f"{args.repeats} repeats; "
        f"{uptime_line()}"
    )
    res = overhead(args)
    summary = summarise_overhead(res["rows"])
    say(
        f"overhead by N, medians (min-max) of {args.repeats}; runners {res['runners']}; "
        f"{uptime_line()}"
    )
    for n, s in summary.items():
        say(
            f"  N={n:3d}: {s['episodes']} episodes, {s['agent_calls']} agent calls; wall ray "
            f"{fmt(s['ray_s'], 's')}, pure {fmt(s['pure_s'], 's')}; overhead wall "
            f"{fmt(s['wall_ms_per_episode'], 'ms/episode')}, "
            f"{fmt(s['wall_ms_per_call'], 'ms/call')}; CPU "
            f"{fmt(s['cpu_ms_per_episode'], 'ms/episode')}, {fmt(s['cpu_ms_per_call'], 'ms/call')}"
            f" (pure compute {fmt(s['pure_cpu_ms_per_call'], 'ms/call')})"
        )
    path = record(
        "paper_overhead",
        {
            "params": vars(args),
            "runners": res["runners"],
            "summary": summary,
            "runs": res["rows"],
            "load_end": uptime_line(),
        },
    )
    say(f"appended to {path}")
    return 0
