"""``orgsweep compact``: a thin layer over :func:`sweep.results.compact.compact`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.lease import writer_lease
    from sweep.results.compact import compact
    from sweep.results.manifest import read_manifest
    from sweep.results.store import ResultStore

    store = ResultStore(args.results_dir)
    read_manifest(store)  # refuses a directory that is not orgsweep's
    with writer_lease(store, "compact", wait=args.wait, on_wait=print):
        if args.drop_stale:
            from sweep.stale import drop_stale

            for d in drop_stale(store):
                print(f"{d.table}: dropped {d.rows_dropped} stale rows")
        done = compact(store)
    for c in done:
        extra = f"; removed {c.leftovers} leftover .tmp file(s)" if c.leftovers else ""
        print(f"{c.table}: {c.parts_before} -> {c.parts_after} part files, {c.rows} rows{extra}")
    return 0
