"""``orgsweep agree``, ``orgsweep probe`` and ``orgsweep scores``: thin layers over
``sweep.cli.judge_cmds`` (docs/design/judge-reliability.md)."""

from __future__ import annotations

import argparse


def agree(args: argparse.Namespace) -> int:
    from sweep.cli.judge_cmds import agree_cmd

    return agree_cmd(args.results_dir, args.set_a, args.set_b, args.json, args.resamples)


def probe(args: argparse.Namespace) -> int:
    from sweep.cli.judge_cmds import probe_cmd
    from sweep.lease import writer_lease
    from sweep.results.store import ResultStore

    with writer_lease(ResultStore(args.results_dir), "probe", wait=args.wait, on_wait=print):
        return probe_cmd(args.results_dir, args.kind, args.sample, args.overrides, args.concurrency)


def scores(args: argparse.Namespace) -> int:
    from sweep.cli.judge_cmds import scores_cmd

    if args.scores_command != "import":
        return scores_cmd(args)
    from sweep.lease import writer_lease
    from sweep.results.store import ResultStore

    with writer_lease(ResultStore(args.results_dir), "scores import", on_wait=print):
        return scores_cmd(args)
