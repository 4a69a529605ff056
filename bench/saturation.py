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

``--clock virtual`` runs runner and engine in one event loop on a virtual clock
(``bench/virtual_time.py``): the client's work costs no engine time, and every figure is the
same on every run whatever the machine's load. ``--order longest_first`` dispatches the episodes
in the executor's order instead of the plan's. Each run reports where the engine's time went
(slots full / KV-queued / starved, idle and clock lag) and, in real time, the CPU share of the
client and the server process, so a harness-bound figure says so.

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
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from agents.backends.options import ClientOptions
from bench.common import cpu_s, fmt, record, say, summarise, uptime_line
from bench.runners import http_client, run_naive, run_orgsweep
from bench.sim_engine import EngineParams, bound
from bench.sim_server import add_engine_args, params_from

MODEL = "mistral_small_24b"
VARIANTS = ("orgsweep", "naive", "exact")


def workload(
    episodes: int, model: str = MODEL, prompt_version: str | None = None, order: str = "plan"
) -> list[Any]:
    """The first ``episodes`` planned episodes of the protocols sweep at N = 8, 16 on ``model``
    (the planner varies protocols fastest, so any prefix mixes all eight), in plan order or in
    the executor's dispatch order (``order="longest_first"``: ``sweep.schedule``)."""
    from sweep.config import build, compose
    from sweep.plan import plan
    from sweep.schedule import longest_first

    per_task = 8 * 2 * 2  # protocols x N x levels
    overrides = [
        "sweep=protocols",
        f"sweep.blocks.0.models=[{model}]",
        "sweep.blocks.0.n_agents=[8,16]",
        "sweep.blocks.0.seeds=[0]",  # one seed: the workload stays fixed if the preset's changes
        f"sweep.blocks.0.tasks_per_cell={math.ceil(episodes / per_task)}",
        f"sweep.limit={episodes}",
        *([f"prompt_version={prompt_version}"] if prompt_version else []),
    ]
    typed, _ = build(compose(overrides))
    specs = list(plan(typed).specs)
    return [s for s, _ in longest_first([(s, 0) for s in specs])] if order != "plan" else specs


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

    def cpu_s(self) -> float:
        """CPU seconds the server process has used."""
        return cpu_s(self.proc.pid)

    make_client = staticmethod(http_client)
    clock = staticmethod(time.monotonic)

    def run(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[Any, float]:
        """``work()`` in real time against the server; its result and the wall seconds."""
        t0 = time.monotonic()
        out: Any = asyncio.run(work())
        return out, time.monotonic() - t0

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def add_clock_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--clock",
        choices=("real", "virtual"),
        default="real",
        help="real: the engine in its own process, in real time, the client over HTTP; virtual: "
        "runner and engine in one event loop on a virtual clock, the client's work free "
        "(bench/virtual_time.py: figures independent of the machine's load)",
    )


def make_server(args: argparse.Namespace, params: EngineParams, replicas: int = 1) -> Any:
    """The engine(s) ``args.clock`` asks for: a ``Server`` process or ``VirtualEngines``."""
    if args.clock == "virtual":
        from bench.virtual_time import VirtualEngines

        return VirtualEngines(params, replicas)
    return Server([*_server_argv(args), *([f"--replicas={replicas}"] if replicas > 1 else [])])


# ---- one measurement --------------------------------------------------------------------------


def measure(
    server: Server, params: EngineParams, variant: str, specs: Sequence[Any], args: Any
) -> dict[str, Any]:
    """Run the workload once with ``variant`` and read the engine's figures."""
    drain: list[float] = []

    def mark() -> None:
        drain.append(server.clock())

    def work() -> Any:
        if variant in ("orgsweep", "exact"):
            headroom = args.headroom if variant == "orgsweep" else 0.0
            window = math.ceil(params.capacity * (1 + headroom))
            return run_orgsweep(
                specs, server.url, window, args.runners, args.episodes_per_runner, mark,
                make_client=server.make_client,
            )  # fmt: skip
        if variant == "naive":
            return run_naive(specs, server.url, args.naive_episodes, mark, server.make_client)
        raise SystemExit(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")

    load0 = os.getloadavg()[0]
    server.post("/reset")
    cpu0 = cpu_s(), server.cpu_s()
    tally, wall = server.run(work)
    client_cpu, server_cpu = cpu_s() - cpu0[0], server.cpu_s() - cpu0[1]
    st = server.get("/stats")
    b = bound(params, st["mean_prompt"], st["mean_completion"])
    ideal = st["ideal_prefill_tokens"] / max(st["requests"], 1)
    cb = bound(params, st["mean_prompt"], st["mean_completion"], prefill=ideal)
    bins = st["occupancy_bins"]
    steady_end = (drain[0] - st["t0"]) if drain else st["window_s"]
    k = max(1, int(steady_end / st["bin_s"]))
    steady = sum(bins[:k]) / k if bins else 0.0
    steady_tokens = sum(st["token_bins"][:k]) / (k * st["bin_s"])
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
        "cache_bound_tokens_per_s": cb["tokens_per_s"],
        "tokens_vs_cache_bound": st["decode_tokens_per_s"] / cb["tokens_per_s"],
        "tokens_per_s_steady": steady_tokens,
        "tokens_vs_cache_bound_steady": steady_tokens / cb["tokens_per_s"],
        "prompt_tokens": st["prompt_tokens"],
        "prefilled_share": st["prefilled_share"],
        "ideal_prefill_share": st["ideal_prefill_tokens"] / max(st["prompt_tokens"], 1),
        "hit_rate": st["hit_rate"],
        "evictions": st["evictions"],
        "prefill_bound_share": st["prefill_bound_share"],
        **engine_time(st),
        "client_cpu_share": client_cpu / wall,
        "server_cpu_share": server_cpu / wall,
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


def engine_time(st: dict[str, Any]) -> dict[str, float]:
    """Where the engine's wall time went (``GET /stats``): the share of it the engine charged
    for steps (``engine_busy``; the rest is ``idle``, nothing to run, and ``lag``, the clock
    falling behind for want of CPU), the decode batch per step, the share of time with every
    slot running (``full``), with a free slot and a request waiting (``queued``: KV-bound) and
    with a free slot and nothing waiting (``starved``: the clients did not send), and the tokens/s
    over the charged time alone (what the engine would do without idling or lagging)."""
    w = max(st["window_s"], 1e-9)
    return {
        "engine_busy_share": st["nominal_s"] / w,
        "idle_share": 1 - st["busy_s"] / w,
        "lag_share": (st["busy_s"] - st["nominal_s"]) / w,
        "decode_batch_mean": st["decode_batch_mean"],
        "full_share": st["full_share"],
        "queued_share": st["queued_share"],
        "starved_share": st["starved_share"],
        "charged_tokens_per_s": st["decode_tokens"] / max(st["nominal_s"], 1e-9),
        "charged_prefill_share": st["charged_prefill_s"] / max(st["nominal_s"], 1e-9),
    }


KEYS = (
    "tokens_per_s",
    "tokens_vs_cache_bound",
    "tokens_per_s_steady",
    "tokens_vs_cache_bound_steady",
    "cache_bound_tokens_per_s",
    "prefilled_share",
    "ideal_prefill_share",
    "hit_rate",
    "evictions",
    "prefill_bound_share",
    "engine_busy_share",
    "idle_share",
    "lag_share",
    "decode_batch_mean",
    "full_share",
    "queued_share",
    "starved_share",
    "charged_tokens_per_s",
    "charged_prefill_share",
    "client_cpu_share",
    "server_cpu_share",
    "wall_s",
    "episodes_per_s",
    "occupancy",
    "occupancy_steady",
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
    ap.add_argument(
        "--prompt-versions",
        default="p1,p2",
        help="comma-separated prompt layouts; each runs the same episodes (agents/prompts.py)",
    )
    add_clock_arg(ap)
    ap.add_argument(
        "--order",
        choices=("plan", "longest_first"),
        default="plan",
        help="dispatch order of the episodes: the plan's, or the executor's longest_first",
    )
    args = ap.parse_args(argv)
    if args.naive_episodes is None:
        args.naive_episodes = args.runners * args.episodes_per_runner
    params = params_from(args)
    versions = args.prompt_versions.split(",")
    labels = [(v, pv) for pv in versions for v in args.variants.split(",")]
    say(f"saturation: {args.episodes} episodes, engine {params}; {uptime_line()}")
    work = {pv: workload(args.episodes, args.model, pv, args.order) for pv in versions}
    server = make_server(args, params)
    runs: list[dict[str, Any]] = []
    try:
        measure(server, params, labels[0][0], work[versions[0]][:4], args)  # warm-up
        for r in range(args.repeats):
            order = labels if r % 2 == 0 else labels[::-1]
            rep = {f"{v}@{pv}": measure(server, params, v, work[pv], args) for v, pv in order}
            for key, m in rep.items():
                m["repeat"], m["label"] = r, key
                m["prompt_version"] = key.split("@")[1]
                say(f"  [{r}] {key:12s} {_line(m)}")
            for pv in versions:
                for v in ("orgsweep", "exact"):
                    o, n = rep.get(f"{v}@{pv}"), rep.get(f"naive@{pv}")
                    if o and n:
                        for k in ("tokens_per_s", "occupancy", "occupancy_steady", "wall_s"):
                            o[f"{k}_vs_naive"] = o[k] / n[k] if n[k] else float("nan")
                if pv != versions[0]:  # the same runner on the first layout, same repeat
                    for v, _ in labels:
                        a, b = rep.get(f"{v}@{pv}"), rep.get(f"{v}@{versions[0]}")
                        if a and b:
                            a[f"tokens_per_s_vs_{versions[0]}"] = (
                                a["tokens_per_s"] / b["tokens_per_s"]
                            )
            runs += rep.values()
    finally:
        server.close()
    ratios = (
        "tokens_per_s_vs_naive",
        "occupancy_vs_naive",
        "occupancy_steady_vs_naive",
        "wall_s_vs_naive",
        f"tokens_per_s_vs_{versions[0]}",
    )
    summary = {}
    for v, pv in labels:
        mine = [m for m in runs if m["label"] == f"{v}@{pv}"]
        summary[f"{v}@{pv}"] = summarise(mine, KEYS)
        summary[f"{v}@{pv}"].update(summarise(mine, [k for k in ratios if k in mine[0]]))
    say(f"saturation, medians (min-max) of {args.repeats} repeats; {uptime_line()}")
    for key, st in summary.items():
        say(
            f"  {key:12s} tokens/s {fmt(st['tokens_per_s'])} = "
            f"{fmt(st['tokens_vs_cache_bound'])} of the cache-aware bound "
            f"{fmt(st['cache_bound_tokens_per_s'])}; prefilled {fmt(st['prefilled_share'])} "
            f"of prompt tokens (ideal {fmt(st['ideal_prefill_share'])}); prefill-bound "
            f"{fmt(st['prefill_bound_share'])} of engine time; occupancy/C "
            f"{fmt(st['occupancy'])}; wall {fmt(st['wall_s'], 's')}"
        )
        for k in ratios:
            if k in st:
                say(f"    {k}: {fmt(st[k])}")
    path = record(
        "saturation",
        {
            "params": vars(args),
            "engine": params.__dict__,
            "workload": {
                "episodes": args.episodes,
                "model": args.model,
                "n_agents": [8, 16],
                "prompt_versions": versions,
            },
            "summary": summary,
            "runs": runs,
            "load_end": uptime_line(),
        },
    )
    say(f"appended to {path}")
    return 0


def _line(m: dict[str, Any]) -> str:
    return (
        f"wall {m['wall_s']:.1f} s  tokens/s {m['tokens_per_s']:.0f} "
        f"({m['tokens_vs_cache_bound']:.2f} of cache-aware bound "
        f"{m['cache_bound_tokens_per_s']:.0f}; until the last dispatch "
        f"{m['tokens_vs_cache_bound_steady']:.2f})  prefilled {m['prefilled_share']:.3f} "
        f"(ideal {m['ideal_prefill_share']:.3f}, hit rate {m['hit_rate']:.3f}, evictions "
        f"{m['evictions']})  prefill-bound {m['prefill_bound_share']:.2f}  engine busy "
        f"{m['engine_busy_share']:.2f} (idle {m['idle_share']:.2f}, lag {m['lag_share']:.2f})  "
        f"slots full {m['full_share']:.2f} / KV-queued {m['queued_share']:.2f} / starved "
        f"{m['starved_share']:.2f}  decode batch {m['decode_batch_mean']:.1f}  charged tokens/s "
        f"{m['charged_tokens_per_s']:.0f}  CPU client {m['client_cpu_share']:.2f} server "
        f"{m['server_cpu_share']:.2f}  occupancy "
        f"{m['occupancy']:.3f} (steady {m['occupancy_steady']:.3f})  preemptions "
        f"{m['preemptions']}  clock {m['clock_efficiency']:.2f}  load {m['load_before']:.2f}"
    )


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
