"""``orgsweep launch`` and ``orgsweep resume``: a thin layer over :func:`sweep.launch.launch`."""

from __future__ import annotations

import argparse
from typing import Any

SIM_BANNER = (
    "sim backend: these numbers come from the synthetic backend and are not evidence about LLMs."
)


def run(args: argparse.Namespace, overrides: list[str] | None = None) -> int:
    from sweep.cli.output import console, say
    from sweep.launch import launch
    from sweep.progress import LiveProgress
    from sweep.results.reader import load

    con = console()
    live: LiveProgress | None = None

    def progress(p: Any) -> None:
        nonlocal live
        if live is None:
            live = LiveProgress(p.total, con, not args.no_progress, args.progress_every).__enter__()
        live.update(p)

    try:
        r = launch(
            list(args.overrides if overrides is None else overrides),
            retry_failed=args.retry_failed,
            on_config_change=args.on_config_change,
            progress=progress,
            say=lambda line: say(con, line),
            wait=args.wait,
            preflight=not args.no_preflight,
        )
    finally:
        if live is not None:
            live.__exit__(None, None, None)
    if r.ran:
        con.print(f"ran {r.ok} ok, {r.failed} failed ({r.retried} retries)")
    results = load(r.config.results_dir, plan_only=False)  # filtered to this plan just below
    _print_summary(results, set(r.planned_ids), r.config, con)
    from sweep.failures import report_failures

    return report_failures(r.config.results_dir, list(r.planned_ids), con)


def resume(args: argparse.Namespace) -> int:
    from sweep.stored import stored_config

    stored = stored_config(args.results_dir)
    return run(args, stored.launch_overrides(args.overrides))


def _print_summary(results: Any, ids: set[str], typed: Any, con: Any) -> None:
    import polars as pl

    from analysis.summary import LEGEND
    from analysis.summary import cell_means as table
    from sweep.columns import frame_table

    runs = results.runs.filter(pl.col("episode_id").is_in(list(ids)))
    # Two decimals for scores, one for counts: the table fits 80 columns.
    df = table(runs).with_columns(
        pl.col("Q", "M", "part").round(2), pl.col("roles", "depth", "calls").round(1)
    )
    if df.is_empty():
        con.print("No committed ok runs yet.")
        return
    con.print(frame_table(df, f"{typed.name}: mean per model and protocol"))

    con.print(LEGEND, style="dim", markup=False)
    from agents.backends import backend_entry

    if backend_entry(typed.backend.name).synthetic:
        con.print(f"[bold yellow]{SIM_BANNER}[/]")
