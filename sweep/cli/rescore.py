"""``orgsweep rescore``: a thin layer over :func:`sweep.rescore.rescore`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.cli.output import console
    from sweep.lease import writer_lease
    from sweep.rescore import rescore
    from sweep.results.manifest import read_manifest
    from sweep.results.store import ResultStore

    con = console()
    store = ResultStore(args.results_dir)
    read_manifest(store)  # refuses a directory that is not orgsweep's
    with writer_lease(store, "rescore", wait=args.wait, on_wait=con.print):
        r = rescore(args.results_dir, args.overrides, name=args.name, concurrency=args.concurrency)
    con.print(
        f"score set [bold]{r.score_set}[/] (judge {r.judge}): {r.scored} scored "
        f"({r.judge_failed} judge_failed), {r.already} already scored, {r.unmatched} not in the "
        f"rebuilt plan, {r.infra_failed} left for a rerun; {r.seconds:.1f} s"
    )
    con.print(f"read it with: analysis.load({args.results_dir!r}, score_set={r.score_set!r})")
    from sweep.cli.judge_cmds import rescore_headline

    con.print(rescore_headline(args.results_dir, r.score_set))
    return 0
