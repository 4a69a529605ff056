"""``orgsweep view``: a thin layer over :func:`analysis.view.serve`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from analysis.view import serve

    return serve(args.results_dir, port=args.port, host=args.host)
