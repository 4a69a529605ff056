"""``orgsweep show``: a thin layer over :func:`sweep.show.show`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.show import show

    show(args.results_dir, args.episode_id, args.step)
    return 0
