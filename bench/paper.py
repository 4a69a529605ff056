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
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import fmt, record, say, uptime_line

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

    from sweep.results.reader import load

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
    ov.add_argument("--ns", default="4,8,16,32,64,96,128,256")
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
    from bench.overhead import overhead, summarise_overhead

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
