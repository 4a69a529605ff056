"""``orgsweep status``: a thin layer over :func:`sweep.status_watch.status_cmd`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.cli.output import console
    from sweep.status_watch import status_cmd

    return status_cmd(args.results_dir, console(), watch_s=args.watch, as_json=args.json)
