"""``orgsweep tasks export``: a thin layer over :func:`sweep.task_export.export`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.task_export import export, parse_levels

    e = export(
        args.n, args.out, seed=args.seed, levels=parse_levels(args.levels), namespace=args.namespace
    )
    per = ", ".join(f"{lv} {k}" for lv, k in e.by_level.items())
    print(
        f"wrote {sum(e.by_level.values())} tasks ({per}) to {e.path}: generated in "
        f"{e.generate_s:.2f} s, written in {e.write_s:.2f} s"
    )
    return 0
