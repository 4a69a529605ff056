"""``orgsweep query``: a thin layer over :func:`analysis.query.query`."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from analysis.query import query, sim_notice

    df = query(args.results_dir, args.sql)
    notice = sim_notice(args.results_dir, df)
    if notice:
        print(notice, file=sys.stderr)  # stderr: csv/json on stdout stay machine-readable
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        import polars as pl

        from sweep.terminal import printable_frame

        with pl.Config(tbl_rows=200, tbl_cols=50, fmt_str_lengths=60):
            print(printable_frame(df))  # model-written text: no escape sequence reaches the tty
    return 0
