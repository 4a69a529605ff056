"""Benchmark 6, replica affinity: R engine replicas behind a ``backend.base_url`` list, the
``openai`` client routing prefix-obliviously or by prefix affinity.

**Workload**: the episodes of one model of a sweep (default: ``mistral_small_24b`` in the
``paper`` sweep, prompt layout p2) in the executor's dispatch order (``sweep.schedule.
longest_first`` over the plan), cut into ``--windows`` windows of ``--episodes`` consecutive
episodes at evenly spaced points of that order; each window runs with all its episodes in flight
(2 runners), as the executor keeps consecutive episodes of its dispatch order in flight. So the
episodes in flight are those a sweep really runs together: in dispatch order they come from many
tasks (a window of 256 holds 18 to 256 distinct tasks), where the plan order's first episodes
share one or two.

**Engines**: ``--replicas`` (4, the model's ``replicas``) engines of ``bench/sim_engine.py``,
each sized as one configured replica: C = the model's ``max_num_seqs`` (256) and a KV budget of
``--kv-tokens`` (550,000: what a TP2 replica of the model leaves for KV on two 80 GB GPUs;
BENCHMARKS.md), each its own prefix cache. By default they run on the virtual clock
(``bench/virtual_time.py``), so every token count is independent of the machine and its load;
the episodes' judge calls (another model, on GPUs of its own) then go to one more engine, left
out of the figures (with ``--clock real`` the server's replicas take them too). "One engine"
is what a single engine holding every block of the window would prefill: the least any routing
can reach.

**Routing**, each window once per router, fresh engines each time:

- ``power_of_two``: Ray Serve's default router (two replicas drawn at random, the less loaded
  one taken; seeded); prefix-oblivious: the "random" baseline (virtual clock only);
- ``least_in_flight``: the client's prefix-oblivious balance (least loaded endpoint);
- ``prefix_affinity``: the client's default (``agents.backends.affinity``: the calls of one
  episode to one endpoint by rendezvous hashing of its id, unless that endpoint is busier).

Figures per router: prompt and prefilled tokens (summed over windows and replicas), hit rate,
and per replica: requests, prefilled tokens, hit rate.

Run: ``python -m bench affinity`` (~4 min on 2 cores).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

from bench.common import record, say, uptime_line
from bench.runners import run_orgsweep
from bench.saturation import add_clock_arg, make_server
from bench.sim_server import add_engine_args, params_from

MODEL = "mistral_small_24b"
ROUTERS = ("power_of_two", "least_in_flight", "prefix_affinity")
COUNTS = ("requests", "prompt_tokens", "prefilled_tokens", "prefix_queries", "prefix_hits")
SUMMED = (*COUNTS, "decode_tokens", "evictions", "preemptions")


def windows(
    sweep: str, model: str, prompt_version: str, count: int, size: int
) -> list[tuple[int, list[Any]]]:
    """``count`` windows of ``size`` consecutive episodes of ``model`` in the executor's
    dispatch order of ``sweep``, at evenly spaced starts: ``(start, specs)``."""
    from sweep.config import build, compose
    from sweep.plan import plan
    from sweep.schedule import longest_first

    typed, _ = build(compose([f"sweep={sweep}", f"prompt_version={prompt_version}"]))
    mine = [(s, 0) for s in plan(typed).specs if s.model.name == model]
    order = [s for s, _ in longest_first(mine)]
    if not order:
        raise SystemExit(f"sweep {sweep!r} has no episode on model {model!r}")
    span = max(len(order) - size, 0)
    starts = sorted({round(span * k / max(count - 1, 1)) for k in range(count)})
    return [(a, order[a : a + size]) for a in starts]


def measure(server: Any, replicas: int, router: str, specs: Sequence[Any], args: Any) -> dict:
    """One window through ``router``; the replicas' counters, summed and per replica."""
    urls = [f"{server.root}/r{i}/v1" for i in range(replicas)]
    window = math.ceil(args.capacity * 1.25)  # per endpoint: the client's default admission
    per_runner = math.ceil(len(specs) / args.runners)  # the whole window in flight
    server.post("/reset")
    tally, wall = server.run(
        lambda: run_orgsweep(
            specs, urls, window, args.runners, per_runner, lambda: None,
            make_client=server.make_client, balance=router,
        )
    )  # fmt: skip
    per = [server.get(f"/r{i}/stats") for i in range(replicas)]
    out: dict[str, Any] = {k: sum(p[k] for p in per) for k in SUMMED}
    out.update(
        router=router,
        wall_s=wall,
        episodes=len(specs),
        episodes_ok=tally["ok"],
        episodes_failed=tally["failed"],
        replicas=[{k: p[k] for k in COUNTS} for p in per],
        clock_efficiency=min(p["clock_efficiency"] for p in per),
    )
    one = getattr(server, "one_engine_prefill", None)  # virtual clock only
    out["one_engine_prefill"] = one() if one else None
    out["other_model_requests"] = server.get("/other/stats")["requests"] if one else None
    return out


def _total(runs: Sequence[dict[str, Any]], replicas: int) -> dict[str, Any]:
    """Windows summed: tokens, hit rate, per replica."""
    out: dict[str, Any] = {k: sum(r[k] for r in runs) for k in SUMMED}
    if all(r["one_engine_prefill"] is not None for r in runs):
        out["one_engine_prefill"] = sum(r["one_engine_prefill"] for r in runs)
        out["one_engine_share"] = out["one_engine_prefill"] / max(out["prompt_tokens"], 1)
    out["prefilled_share"] = out["prefilled_tokens"] / max(out["prompt_tokens"], 1)
    out["hit_rate"] = out["prefix_hits"] / max(out["prefix_queries"], 1)
    out["wall_s"] = sum(r["wall_s"] for r in runs)
    out["tokens_per_s"] = out["decode_tokens"] / max(out["wall_s"], 1e-9)
    out["per_replica"] = [
        {k: sum(r["replicas"][i][k] for r in runs) for k in COUNTS} for i in range(replicas)
    ]
    for p in out["per_replica"]:
        p["prefilled_share"] = p["prefilled_tokens"] / max(p["prompt_tokens"], 1)
        p["hit_rate"] = p["prefix_hits"] / max(p["prefix_queries"], 1)
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench affinity", description=__doc__)
    add_engine_args(ap)
    add_clock_arg(ap)
    ap.set_defaults(capacity=256, kv_tokens=550_000, clock="virtual")
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--sweep", default="paper")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--windows", type=int, default=4, help="windows of the dispatch order")
    ap.add_argument("--episodes", type=int, default=128, help="episodes per window, in flight")
    ap.add_argument("--prompt-version", default="p2")
    ap.add_argument("--runners", type=int, default=2)
    ap.add_argument(
        "--routers",
        default=None,
        help=f"comma-separated, of {', '.join(ROUTERS)} (default: all; power_of_two needs "
        "--clock virtual)",
    )
    args = ap.parse_args(argv)
    routers = (args.routers or ",".join(ROUTERS[0 if args.clock == "virtual" else 1 :])).split(",")
    if "prefix_affinity" not in routers:
        raise SystemExit("--routers must include prefix_affinity")
    params = params_from(args)
    say(f"affinity: {args.replicas} x engine {params}, clock {args.clock}; {uptime_line()}")
    work = windows(args.sweep, args.model, args.prompt_version, args.windows, args.episodes)
    if args.clock == "virtual":  # the judge (another model) on an engine of its own
        from bench.virtual_time import VirtualEngines

        server: Any = VirtualEngines(params, args.replicas, only=args.model)
    else:
        server = make_server(args, params, args.replicas)
    runs: list[dict[str, Any]] = []
    try:
        for start, specs in work:
            for router in routers:
                m = measure(server, args.replicas, router, specs, args)
                m["start"] = start
                m["cells"] = sorted({f"{s.protocol}@{s.n_agents}" for s in specs})
                m["tasks"] = len({s.tasks for s in specs})
                runs.append(m)
                say(
                    f"  window @{start} ({m['tasks']} tasks; {', '.join(m['cells'])}) "
                    f"{router:16s} prefilled {m['prefilled_tokens']} of {m['prompt_tokens']} "
                    f"({m['prefilled_tokens'] / max(m['prompt_tokens'], 1):.3f}; one engine "
                    f"{m['one_engine_prefill']})  requests per "
                    f"replica {[r['requests'] for r in m['replicas']]}  episodes "
                    f"{m['episodes_ok']}/{m['episodes']}  {args.clock} wall {m['wall_s']:.1f} s"
                )
    finally:
        server.close()
    summary = {r: _total([m for m in runs if m["router"] == r], args.replicas) for r in routers}
    aff = summary["prefix_affinity"]
    for r, s in summary.items():
        say(
            f"  {r:16s} prefilled {s['prefilled_tokens']} of {s['prompt_tokens']} prompt tokens "
            f"({s['prefilled_share']:.4f}), hit rate {s['hit_rate']:.4f}, evictions "
            f"{s['evictions']}, tokens/s {s['tokens_per_s']:.0f} ({args.clock} clock); one "
            f"engine holding every block: {s.get('one_engine_share', float('nan')):.4f}"
        )
        for i, p in enumerate(s["per_replica"]):
            say(
                f"      replica {i}: {p['requests']} requests, prefilled {p['prefilled_tokens']}"
                f" of {p['prompt_tokens']} ({p['prefilled_share']:.4f}), hit rate "
                f"{p['hit_rate']:.4f}"
            )
        if r != "prefix_affinity":
            s["affinity_prefill_reduction"] = s["prefilled_tokens"] / max(
                aff["prefilled_tokens"], 1
            )
            say(
                f"  affinity prefills {s['affinity_prefill_reduction']:.2f}x fewer tokens than "
                f"{r}; tokens/s x {aff['tokens_per_s'] / max(s['tokens_per_s'], 1e-9):.2f}"
            )
    path = record("affinity", {"params": vars(args), "summary": summary, "runs": runs})
    say(f"appended to {path}")
    return 0
