"""Failed episodes, first-class: counts by error kind with one example each, for ``launch``'s
summary and ``orgsweep status``, and the exit code of a launch that leaves failures.

An episode is failed when its latest commit is a ``failed`` row (it ran out of attempts); a
later ``launch --retry-failed`` that succeeds makes it ok again. ``orgsweep query`` sees these
rows as the ``failed`` table (``analysis.query``).
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Collection
from dataclasses import dataclass

import polars as pl
from rich.console import Console

from sweep.terminal import printable

# Exit codes of `orgsweep launch` / `resume` (README "Exit codes"): 0 every planned episode ok,
# 1 a crash or setup failure, 2 a user error, 3 failed episodes remain, 130 Ctrl-C.
EXIT_FAILED_EPISODES = 3


@dataclass(frozen=True)
class FailureKind:
    kind: str
    count: int
    example_id: str
    example_error: str


def failure_kinds(results_dir: str, ids: Collection[str] | None = None) -> list[FailureKind]:
    """Failed episodes (of ``ids``, default all) by error kind, commonest first."""
    from sweep.results.reader import load

    runs = load(results_dir, include_failed=True, plan_only=False).runs
    return kinds_of(runs.filter(pl.col("status") == "failed"), ids)


def kinds_of(failed: pl.LazyFrame, ids: Collection[str] | None = None) -> list[FailureKind]:
    if ids is not None:
        keep = pl.LazyFrame({"episode_id": list(ids)}, schema={"episode_id": pl.String})
        failed = failed.join(keep, on="episode_id", how="semi")
    df = (
        failed.select("episode_id", "error_kind", "error")
        .sort("episode_id")
        .group_by(pl.col("error_kind").fill_null("unknown"))
        .agg(pl.len().alias("n"), pl.col("episode_id").first(), pl.col("error").first())
        .sort(["n", "error_kind"], descending=[True, False])
        .collect()
    )
    return [
        FailureKind(r["error_kind"], int(r["n"]), r["episode_id"], r["error"] or "")
        for r in df.iter_rows(named=True)
    ]


def list_command(results_dir: str) -> str:
    sql = "SELECT episode_id, error_kind, error FROM failed"
    return f"orgsweep query {shlex.quote(results_dir)} {shlex.quote(sql)}"


def failure_lines(kinds: list[FailureKind], results_dir: str, width: int = 80) -> list[str]:
    """The summary's failure section: a line per kind, its example error (cut to ``width``),
    and the command that lists every failed episode."""
    if not kinds:
        return []
    total = sum(k.count for k in kinds)
    out = [f"failed episodes: {total}, by kind:"]
    for k in kinds:
        out.append(f"  {k.kind}: {k.count} (e.g. {k.example_id[:12]})")
        out += textwrap.wrap(
            printable(k.example_error),  # a server's text: no escape sequence reaches the tty
            width,
            initial_indent="    ",
            subsequent_indent="    ",
            max_lines=3,
        )
    out.append("list them: " + list_command(results_dir))
    out.append("show one:  orgsweep show " + shlex.quote(results_dir) + " EPISODE_ID")
    return out


def report_failures(results_dir: str, ids: Collection[str], con: Console) -> int:
    """Print the failure section of ``launch``'s summary; the launch's exit code."""
    kinds = failure_kinds(results_dir, ids)
    for line in failure_lines(kinds, results_dir, min(con.width, 100)):
        con.print(line, markup=False, highlight=False, soft_wrap=True)
    return EXIT_FAILED_EPISODES if kinds else 0
