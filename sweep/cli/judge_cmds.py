"""Console output of ``orgsweep agree``, ``probe``, ``scores`` and ``rescore``'s headline.

The work is done by ``analysis.agreement``, ``analysis.probe`` and ``sweep.labels``; this module
only prints (``sweep.cli.judge`` dispatches here).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

SIM_NOTE = "sim backend: synthetic scores, not evidence about LLMs or their judging."


def _table(title: str, header: Sequence[str], rows: list[list[str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for h in header:
        t.add_column(h)
    for r in rows:
        t.add_row(*r)
    return t


def agree_cmd(results_dir: str, set_a: str, set_b: str, as_json: bool, resamples: int) -> int:
    from analysis.agreement import agree, table_rows

    ag = agree(results_dir, set_a, set_b, resamples=resamples)
    if as_json:
        print(json.dumps(ag.to_dict(), indent=2))
        return 0
    con = Console(highlight=False)
    con.print(
        f"score sets A={set_a!r} and B={set_b!r}: n = {ag.n} run steps over {ag.tasks} tasks; "
        f"left out: {ag.left_out_failed} with a failed judgement, {ag.left_out_unscored} "
        "scored by one set only"
    )
    title = f"agreement, 95% CIs from {ag.boot} bootstrap resamples of tasks"
    con.print(_table(title, ["measure", "on", "value", "95% CI"], table_rows(ag)))
    if ag.sim:
        con.print(f"[bold yellow]{SIM_NOTE}[/]")
    return 0


def rescore_headline(results_dir: str, score_set: str) -> str:
    """``rescore``'s last line: agreement with the set it was made from (``default``)."""
    from analysis.agreement import agree, headline
    from sweep.errors import UserError

    try:
        return headline(agree(results_dir, "default", score_set, resamples=100))
    except UserError as e:
        return f"no agreement figure: {e}"


def probe_cmd(
    results_dir: str, kind: str, sample: int, overrides: Sequence[str], concurrency: int
) -> int:
    from analysis.probe import probe, table_rows

    r = probe(results_dir, kind, sample=sample, overrides=overrides, concurrency=concurrency)
    con = Console(highlight=False)
    for w in r.warnings:
        con.print(f"[yellow]warning:[/] {w}")
    con.print(
        f"probe {kind}: score set [bold]{r.score_set}[/] vs {r.baseline}, n = {r.n} run steps "
        f"over {r.tasks} tasks ({r.judged} judge calls made now)"
    )
    con.print(_table("change (probe - base), 95% task-bootstrap CI", ["on", "change", "95% CI"],
                     table_rows(r)))  # fmt: skip
    con.print(f"{r.verdict.upper()}: {r.rule}")
    if r.sim:
        con.print(f"[bold yellow]{SIM_NOTE}[/]")
    return 0


def scores_cmd(args: argparse.Namespace) -> int:
    from sweep.labels import export_sample, import_scores

    if args.scores_command == "import":
        got = import_scores(args.results_dir, args.file, args.name)
        for name, n in got.sets.items():
            print(f"score set {name}: {n} rows imported (judge_model human)")
        return 0
    n = export_sample(args.results_dir, args.out, args.sample, args.seed)
    print(f"wrote {n} blinded deliverables to rate to {args.out}")
    return 0
