"""``orgsweep plan``: count the planned episodes, calls and tokens of a sweep."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from analysis.power import power_report
    from sweep.cli.output import console, print_warnings
    from sweep.columns import wrap_counts
    from sweep.estimate import as_json, lines
    from sweep.plan import plan, plan_summary
    from sweep.plan_cost import load_for_plan, plan_estimate

    typed, warns, cfg = load_for_plan(list(args.overrides))
    p = plan(typed)
    s = plan_summary(p)
    power = power_report(typed, cfg, args.pilot)
    est = plan_estimate(cfg, typed, p, args.pilot)
    if args.json:
        out = {"sweep": typed.name, **s, "cost": as_json(est), "power": power, "warnings": warns}
        print(json.dumps(out, indent=2))
        return 0
    con = console()
    con.print(f"sweep [bold]{typed.name}[/]: {s['episodes']} episodes, {s['total_runs']} task runs")
    for key in ("by_block", "by_model", "by_protocol", "by_n_agents", "by_level"):
        con.print(wrap_counts(key[3:], s[key], min(con.width, 100)), soft_wrap=True)
    con.print(
        f"  agent calls (upper bound): {s['agent_calls']:,}; judge calls: {s['judge_calls']:,}"
    )
    for reason, n in s["skipped"].items():
        con.print(f"  skipped {n}: {reason}")
    for line in lines(est):
        print(line)
    for line in power["lines"]:
        con.print(f"  {line}")
    print_warnings(con, warns)
    return 0
