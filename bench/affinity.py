"""Benchmark 6, replica affinity: 4 engine replicas behind a ``backend.base_url`` list, the
``openai`` client routing prefix-obliviously (``least_in_flight``) or by prefix affinity.

``bench/sim_server.py --replicas R`` serves R engines (each its own prefix cache and KV budget,
``/r{i}/v1``) in one process; orgsweep's runner (as in benchmark 2) sends the same episodes
through a client given the R URLs, once per ``balance`` in alternating order per repeat. The
engines' own counters are summed: prompt tokens, prefilled tokens, decode tokens/s.

Defaults: 4 replicas of a quarter of benchmark 2's engine (C = 16, 24,000 KV tokens each), 200
episodes of the protocols sweep at N = 8, 16 with prompt layout p2.

Run: ``python -m bench affinity``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from bench.common import fmt, record, say, summarise, uptime_line
from bench.runners import run_orgsweep
from bench.saturation import MODEL, Server, _server_argv, workload
from bench.sim_server import add_engine_args, params_from

BALANCES = ("least_in_flight", "prefix_affinity")
SUMMED = ("prompt_tokens", "prefilled_tokens", "decode_tokens", "evictions", "requests")


def measure(server: Server, replicas: int, balance: str, specs: Sequence[Any], args: Any) -> dict:
    urls = [f"{server.root}/r{i}/v1" for i in range(replicas)]
    window = math.ceil(args.capacity * 1.25)  # per endpoint: the client's default admission
    server.post("/reset")
    t0 = time.monotonic()
    tally = asyncio.run(
        run_orgsweep(
            specs, urls, window, args.runners, args.episodes_per_runner, lambda: None,
            balance=balance,
        )
    )  # fmt: skip
    wall = time.monotonic() - t0
    per = [server.get(f"/r{i}/stats") for i in range(replicas)]
    out: dict[str, Any] = {k: sum(p[k] for p in per) for k in SUMMED}
    out.update(
        balance=balance,
        wall_s=wall,
        episodes_ok=tally["ok"],
        prefilled_share=out["prefilled_tokens"] / max(out["prompt_tokens"], 1),
        tokens_per_s=out["decode_tokens"] / wall,
        requests_per_replica=[p["requests"] for p in per],
        clock_efficiency=min(p["clock_efficiency"] for p in per),
    )
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench affinity", description=__doc__)
    add_engine_args(ap)
    ap.set_defaults(capacity=16, kv_tokens=24_000)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--prompt-version", default="p2")
    ap.add_argument("--runners", type=int, default=2)
    ap.add_argument("--episodes-per-runner", type=int, default=16)
    args = ap.parse_args(argv)
    params = params_from(args)
    say(f"affinity: {args.replicas} x engine {params}; {uptime_line()}")
    specs = workload(args.episodes, MODEL, args.prompt_version)
    server = Server([*_server_argv(args), f"--replicas={args.replicas}"])
    runs: list[dict[str, Any]] = []
    try:
        measure(server, args.replicas, BALANCES[0], specs[:4], args)  # warm-up
        for r in range(args.repeats):
            rep = {}
            for b in BALANCES if r % 2 == 0 else BALANCES[::-1]:
                m = rep[b] = measure(server, args.replicas, b, specs, args)
                m["repeat"] = r
                say(
                    f"  [{r}] {b:16s} prefilled {m['prefilled_tokens']} of "
                    f"{m['prompt_tokens']} ({m['prefilled_share']:.3f})  tokens/s "
                    f"{m['tokens_per_s']:.0f}  wall {m['wall_s']:.1f} s  requests per replica "
                    f"{m['requests_per_replica']}  clock {m['clock_efficiency']:.2f}"
                )
            a, o = rep["prefix_affinity"], rep["least_in_flight"]
            a["prefill_reduction"] = o["prefilled_tokens"] / max(a["prefilled_tokens"], 1)
            a["tokens_per_s_gain"] = a["tokens_per_s"] / o["tokens_per_s"]
            runs += rep.values()
    finally:
        server.close()
    keys = ("prefilled_share", "prefilled_tokens", "tokens_per_s", "wall_s", "evictions")
    summary = {b: summarise([m for m in runs if m["balance"] == b], keys) for b in BALANCES}
    summary["prefix_affinity"].update(
        summarise(
            [m for m in runs if m["balance"] == "prefix_affinity"],
            ("prefill_reduction", "tokens_per_s_gain"),
        )
    )
    for b, s in summary.items():
        say(
            f"  {b:16s} prefilled share {fmt(s['prefilled_share'])}; tokens/s "
            f"{fmt(s['tokens_per_s'])}; wall {fmt(s['wall_s'], 's')}"
        )
    s = summary["prefix_affinity"]
    say(
        f"  affinity prefills {fmt(s['prefill_reduction'])}x fewer tokens; tokens/s x "
        f"{fmt(s['tokens_per_s_gain'])}"
    )
    path = record("affinity", {"params": vars(args), "summary": summary, "runs": runs})
    say(f"appended to {path}")
    return 0
