"""Benchmark 2, engine saturation: orgsweep's runner vs a naive runner on a simulated engine.

A fixed workload (``--episodes`` episodes of the ``protocols`` sweep's eight protocols at
N = 8 and 16, one model) runs against ``bench/sim_server.py`` (a separate process, so its clock
does not share an event loop with the clients) twice per repeat, in alternating order:

- **orgsweep**: the executor's runner behaviour in this process: ``--runners`` backend clients
  (one per runner actor, ``n_clients`` = runners, as ``sweep/execute.py`` sets it), each running
  ``--episodes-per-runner`` episodes at once through ``sweep.episode.run_episode`` and the
  ``openai`` backend, whose AIMD window keeps what the client's default admission gives for an
  engine of capacity C: C x (1 + ``admission_headroom``) requests in flight;
- **naive**: one coroutine per episode behind ``asyncio.Semaphore(--naive-episodes)``, the same
  ``openai`` client with admission switched off (a window far above any load);
- **exact** (optional): orgsweep with the window at exactly C (``admission_headroom`` = 0, the
  default before the saturation benchmark showed the cost of a window with no engine queue).

Ray is left out on purpose: on a 2-core machine its processes would compete with the server for
the CPU that keeps the engine's clock, and the policy under test (what is kept in flight) lives
in the backend and the runner loop, not in Ray; benchmark 1 covers the Ray path.

Run: ``python -m bench saturation`` (defaults: 200 episodes, C = 64, 3 repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from agents.backends.options import ClientOptions
from bench.common import fmt, record, say, summarise, uptime_line
from bench.runners import run_naive, run_orgsweep
from bench.sim_engine import EngineParams, bound
from bench.sim_server import add_engine_args, params_from

MODEL = "mistral_small_24b"
VARIANTS = ("orgsweep", "naive", "exact")


def workload(episodes: int, model: str = MODEL) -> list[Any]:
    """The first ``episodes`` planned episodes of the protocols sweep at N = 8, 16 on ``model``
    (the planner varies protocols fastest, so any prefix mixes all eight)."""
    from sweep.config import build, compose
    from sweep.plan import plan

    per_task = 8 * 2 * 2  # protocols x N x levels
    overrides = [
        "sweep=protocols",
        f"sweep.blocks.0.models=[{model}]",
        "sweep.blocks.0.n_agents=[8,16]",
        f"sweep.blocks.0.tasks_per_cell={math.ceil(episodes / per_task)}",
        f"sweep.limit={episodes}",
    ]
    typed, _ = build(compose(overrides))
    return list(plan(typed).specs)


# ---- the server -----------------------------------------------------------------------------


class Server:
    """``bench.sim_server`` in a subprocess."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sim_server", *argv],
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        assert self.proc.stdout is not None
        self.url = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("listening "):
                self.url = line.split()[1]
                break
        if not self.url:
            self.close()
            raise RuntimeError("bench.sim_server did not start")
        self.root = self.url.removesuffix("/v1")

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.root + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.root + path, data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---- one measurement --------------------------------------------------------------------------


def measure(
    server: Server, params: EngineParams, variant: str, specs: Sequence[Any], args: Any
) -> dict[str, Any]:
    """Run the workload once with ``variant`` and read the engine's figures."""
    drain: list[float] = []

    def mark() -> None:
        drain.append(time.monotonic())

    load0 = os.getloadavg()[0]
    server.post("/reset")
    t0 = time.monotonic()
    if variant in ("orgsweep", "exact"):
        headroom = args.headroom if variant == "orgsweep" else 0.0
        window = math.ceil(params.capacity * (1 + headroom))
        coro = run_orgsweep(specs, server.url, window, args.runners, args.episodes_per_runner, mark)
    elif variant == "naive":
        coro = run_naive(specs, server.url, args.naive_episodes, mark)
    else:
        raise SystemExit(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    tally = asyncio.run(coro)
    wall = time.monotonic() - t0
    st = server.get("/stats")
    b = bound(params, st["mean_prompt"], st["mean_completion"])
    bins = st["occupancy_bins"]
    steady_end = (drain[0] - st["t0"]) if drain else st["window_s"]
    k = max(1, int(steady_end / st["bin_s"]))
    steady = sum(bins[:k]) / k if bins else 0.0
    out = {
        "variant": variant,
        "wall_s": wall,
        "episodes_per_s": tally["ok"] / wall,
        "occupancy": st["occupancy"],
        "occupancy_steady": steady,
        "steady_s": steady_end,
        "tokens_per_s": st["decode_tokens_per_s"],
        "preemptions": st["preemptions"],
        "recompute_tokens": st["recompute_tokens"],
        "prefill_tokens": st["prefill_tokens"],
        "requests": st["requests"],
        "mean_queue_wait_s": st["mean_queue_wait_s"],
        "mean_latency_s": st["mean_latency_s"],
        "max_waiting": st["max_waiting"],
        "kv_mean": st["kv_mean"],
        "mean_prompt": st["mean_prompt"],
        "mean_completion": st["mean_completion"],
        "clock_efficiency": st["clock_efficiency"],
        "lag_resets": st["lag_resets"],
        "bound_tokens_per_s": b["tokens_per_s"],
        "bound_raw_tokens_per_s": b["raw_tokens_per_s"],
        "bound_occupancy": b["occupancy"],
        "tokens_vs_bound": st["decode_tokens_per_s"] / b["tokens_per_s"],
        "tokens_vs_raw_bound": st["decode_tokens_per_s"] / b["raw_tokens_per_s"],
        "episodes_ok": tally["ok"],
        "episodes_failed": tally["failed"],
        "episode_retries": tally["retried"],
        "client_in_flight": tally["client_in_flight"],
        "client_waiting": tally["client_waiting"],
        "running_mean": st["running_mean"],
        "server_waiting_mean": st["waiting_mean"],
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }
    return out


KEYS = (
    "wall_s",
    "episodes_per_s",
    "occupancy",
    "occupancy_steady",
    "tokens_per_s",
    "preemptions",
    "recompute_tokens",
    "mean_queue_wait_s",
    "mean_latency_s",
    "kv_mean",
    "tokens_vs_bound",
    "tokens_vs_raw_bound",
    "bound_tokens_per_s",
    "bound_occupancy",
    "clock_efficiency",
    "episode_retries",
    "client_in_flight",
    "client_waiting",
    "running_mean",
    "server_waiting_mean",
    "load_before",
)


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench saturation", description=__doc__)
    add_engine_args(ap)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=MODEL)
    ap.add_argument(
        "--runners",
        type=int,
        default=os.cpu_count() or 2,
        help="orgsweep runner actors (the executor: one per CPU)",
    )
    ap.add_argument(
        "--episodes-per-runner",
        type=int,
        default=16,
        help="conf/cluster/local.yaml episodes_per_runner",
    )
    ap.add_argument(
        "--naive-episodes",
        type=int,
        default=None,
        help="naive semaphore size (default: runners x episodes-per-runner)",
    )
    ap.add_argument(
        "--variants", default="orgsweep,naive", help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    ap.add_argument(
        "--headroom",
        type=float,
        default=ClientOptions.admission_headroom,
        help="orgsweep's backend.admission_headroom: its window is C x (1 + this) "
        "(default: the client's default)",
    )
    args = ap.parse_args(argv)
    if args.naive_episodes is None:
        args.naive_episodes = args.runners * args.episodes_per_runner
    params = params_from(args)
    variants = args.variants.split(",")
    say(f"saturation: {args.episodes} episodes, engine {params}; {uptime_line()}")
    specs = workload(args.episodes, args.model)
    server = Server(_server_argv(args))
    runs: list[dict[str, Any]] = []
    try:
        measure(server, params, variants[0], specs[:4], args)  # warm-up: imports, connections
        for r in range(args.repeats):
            order = variants if r % 2 == 0 else variants[::-1]
            rep = {v: measure(server, params, v, specs, args) for v in order}
            for v in order:
                m = rep[v]
                m["repeat"] = r
                say(
                    f"  [{r}] {v:8s} wall {m['wall_s']:.1f} s  occupancy {m['occupancy']:.3f} "
                    f"(steady {m['occupancy_steady']:.3f})  tokens/s {m['tokens_per_s']:.0f} "
                    f"({m['tokens_vs_bound']:.2f} of bound {m['bound_tokens_per_s']:.0f})  "
                    f"preemptions {m['preemptions']}  queue wait {m['mean_queue_wait_s']:.2f} s  "
                    f"clock {m['clock_efficiency']:.2f}  load {m['load_before']:.2f}  "
                    f"client sent/waiting {m['client_in_flight']:.1f}/{m['client_waiting']:.1f}  "
                    f"engine running/waiting {m['running_mean']:.1f}/"
                    f"{m['server_waiting_mean']:.1f}"
                )
            for v in ("orgsweep", "exact"):
                if v in rep and "naive" in rep:
                    o, n = rep[v], rep["naive"]
                    for k in ("tokens_per_s", "occupancy", "occupancy_steady", "wall_s"):
                        o[f"{k}_vs_naive"] = o[k] / n[k] if n[k] else float("nan")
            runs += rep.values()
    finally:
        server.close()
    summary = {v: summarise([m for m in runs if m["variant"] == v], KEYS) for v in variants}
    for v in ("orgsweep", "exact"):
        if v in summary and "naive" in summary:
            summary[v].update(
                summarise(
                    [m for m in runs if m["variant"] == v],
                    (
                        "tokens_per_s_vs_naive",
                        "occupancy_vs_naive",
                        "occupancy_steady_vs_naive",
                        "wall_s_vs_naive",
                    ),
                )
            )
    say(f"saturation, medians (min-max) of {args.repeats} repeats; {uptime_line()}")
    for v, s in summary.items():
        say(
            f"  {v:8s} occupancy/C {fmt(s['occupancy'])} (steady {fmt(s['occupancy_steady'])}); "
            f"tokens/s {fmt(s['tokens_per_s'])} = {fmt(s['tokens_vs_bound'])} of the bound; "
            f"preemptions {fmt(s['preemptions'])}; wall {fmt(s['wall_s'], 's')}"
        )
        if "tokens_per_s_vs_naive" in s:
            say(
                f"  {v} / naive: tokens/s {fmt(s['tokens_per_s_vs_naive'])}, occupancy "
                f"{fmt(s['occupancy_vs_naive'])}, wall {fmt(s['wall_s_vs_naive'])}"
            )
    path = record(
        "saturation",
        {
            "params": vars(args),
            "engine": params.__dict__,
            "workload": {"episodes": len(specs), "model": args.model, "n_agents": [8, 16]},
            "summary": summary,
            "runs": runs,
            "load_end": uptime_line(),
        },
    )
    say(f"appended to {path}")
    return 0


def _server_argv(args: argparse.Namespace) -> list[str]:
    return [
        f"--capacity={args.capacity}",
        f"--step-ms={args.step_ms}",
        f"--growth={args.growth}",
        f"--prefill-us={args.prefill_us}",
        f"--chunk-tokens={args.chunk_tokens}",
        f"--kv-tokens={args.kv_tokens}",
        f"--watermark={args.watermark}",
        f"--stall-ms={args.stall_ms}",
        f"--completion-scale={args.completion_scale}",
    ]
