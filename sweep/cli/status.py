"""``orgsweep status``: a thin layer over :func:`sweep.status.status`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.cli.output import console
    from sweep.status import status

    status(args.results_dir, console())
    return 0
