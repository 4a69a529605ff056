"""``orgsweep report``: a thin layer over :func:`analysis.report.report`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from analysis.report import report

    r = report(
        args.results_dir,
        out_dir=args.out,
        score_set=args.score_set,
        plan_only=False if args.all_episodes else None,
    )
    print(f"wrote {', '.join(r.files)} to {r.out_dir} ({r.run_steps} run steps, {r.seconds:.1f} s)")
    return 0
