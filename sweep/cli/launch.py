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
            live = LiveProgress(p.total, con, enabled=not args.no_progress).__enter__()
        live.update(p)

    try:
        r = launch(
            list(args.overrides if overrides is None else overrides),
            retry_failed=args.retry_failed,
            on_config_change=args.on_config_change,
            progress=progress,
            say=lambda line: say(con, line),
            wait=args.wait,
        )
    finally:
        if live is not None:
            live.__exit__(None, None, None)
    if r.ran:
        con.print(f"ran {r.ok} ok, {r.failed} failed ({r.retried} retries)")
    results = load(r.config.results_dir, plan_only=False)  # filtered to this plan just below
    _print_summary(results, set(r.planned_ids), r.config, con)
    return 0


def resume(args: argparse.Namespace) -> int:
    from sweep.stored import stored_config

    stored = stored_config(args.results_dir)
    return run(args, stored.launch_overrides(args.overrides))


def _print_summary(results: Any, ids: set[str], typed: Any, con: Any) -> None:
    import polars as pl

    from analysis.summary import cell_means as table

    runs = results.runs.filter(pl.col("episode_id").is_in(list(ids)))
    df = table(runs)
    if df.is_empty():
        con.print("No committed ok runs yet.")
        return
    con.print(f"[bold]{typed.name}: mean per model and protocol[/]")
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        float_precision=3,
        tbl_rows=200,
        tbl_cols=20,
        tbl_width_chars=200,
    ):
        print(df)
    from analysis.summary import LEGEND

    con.print(LEGEND, style="dim", markup=False)
    from agents.backends import backend_entry

    if backend_entry(typed.backend.name).synthetic:
        con.print(f"[bold yellow]{SIM_BANNER}[/]")
