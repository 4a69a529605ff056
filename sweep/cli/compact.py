"""``orgsweep compact``: a thin layer over :func:`sweep.results.compact.compact`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.results.compact import compact
    from sweep.results.manifest import read_manifest
    from sweep.results.store import ResultStore

    store = ResultStore(args.results_dir)
    read_manifest(store)  # refuses a directory that is not orgsweep's
    for c in compact(store):
        print(f"{c.table}: {c.parts_before} -> {c.parts_after} part files, {c.rows} rows")
    return 0
