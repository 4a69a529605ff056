"""``orgsweep check``: a thin layer over :func:`sweep.check.check`."""

from __future__ import annotations

import argparse
import json


def run(args: argparse.Namespace) -> int:
    from sweep.check import check, lines
    from sweep.terminal import printable

    report = check(args.results_dir)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for line in lines(report):
            print(printable(line))  # file names and parquet errors: no escape reaches the tty
    return 0 if report.clean else 1
