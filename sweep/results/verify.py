"""A commit is verifiable: each ``runs`` row records how many ``agents`` and ``transcripts`` rows
its commit wrote for that step, and readers check that those rows are all there.

Part files of a commit are written one table at a time; a part can later be damaged (a truncated
copy, a disk error) or removed by hand. Before this check, an episode whose ``agents`` part was
lost still counted as committed: ``launch`` never re-ran it and ``show`` printed every agent as
abstaining. Now ``incomplete`` lists every commit whose rows are missing or unreadable in any
table; ``ResultStore.committed`` marks those episodes ``damaged`` so the next launch re-runs them
(with the next attempt number, whose rows then win), and ``analysis.load`` warns until it has.
Rows written before the counts existed (null counts) are not checked.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from sweep.results.store import ResultStore

KEY = ["episode_id", "attempt", "batch", "step"]
COUNTED = {"agents": "n_agent_rows", "transcripts": "n_transcript_rows"}


class DamagedCommitWarning(UserWarning):
    pass


def stamp_counts(batches: dict[str, list[dict[str, Any]]]) -> None:
    """Give every ``runs`` row of one commit the number of rows each other table holds for its
    (episode, attempt, step), before the commit is written."""
    for table, column in COUNTED.items():
        counts: dict[tuple[Any, ...], int] = {}
        for r in batches.get(table, []):
            k = (r["episode_id"], r["attempt"], r["step"])
            counts[k] = counts.get(k, 0) + 1
        for r in batches.get("runs", []):
            r[column] = counts.get((r["episode_id"], r["attempt"], r["step"]), 0)


def incomplete(store: ResultStore, runs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Commits (``KEY`` + ``table``, ``expected``, ``found``) whose rows in ``agents`` or
    ``transcripts`` are fewer than their ``runs`` row says; empty when every commit is whole.
    ``runs``: the runs key columns and counts, when the caller has read them already."""
    if runs is None:
        frame = pl.from_arrow(store.read_table("runs", [*KEY, *COUNTED.values()]))
        assert isinstance(frame, pl.DataFrame)
        runs = frame
    # Only the commit readers keep per episode (its latest attempt and batch) must be whole.
    latest = (
        runs.select("episode_id", "attempt", "batch")
        .unique()
        .sort("attempt", "batch")
        .group_by("episode_id")
        .agg(pl.col("attempt").last(), pl.col("batch").last())
    )
    runs = runs.join(latest, on=["episode_id", "attempt", "batch"], how="semi")
    out = []
    for table, column in COUNTED.items():
        expected = runs.filter(pl.col(column).is_not_null() & (pl.col(column) > 0))
        if expected.is_empty():
            continue
        found = pl.from_arrow(store.read_table(table, KEY))
        assert isinstance(found, pl.DataFrame)
        counts = found.group_by(KEY).len("found")
        short = (
            expected.select([*KEY, pl.col(column).alias("expected")])
            .join(counts, on=KEY, how="left")
            .with_columns(pl.col("found").fill_null(0))
            .filter(pl.col("found") < pl.col("expected"))
            .with_columns(pl.lit(table).alias("table"))
        )
        out.append(short.select([*KEY, "table", "expected", pl.col("found").cast(pl.Int64)]))
    if not out:
        return pl.DataFrame(
            schema={
                "episode_id": pl.String,
                "attempt": pl.Int32,
                "batch": pl.String,
                "step": pl.Int32,
                "table": pl.String,
                "expected": pl.Int32,
                "found": pl.Int64,
            }
        )
    return pl.concat(out, how="vertical_relaxed")


def warn_incomplete(short: pl.DataFrame, uri: str) -> None:
    """One warning naming how many episodes have rows missing, by table, and what to do."""
    if short.is_empty():
        return
    episodes = short["episode_id"].n_unique()
    per = short.group_by("table").agg(pl.col("episode_id").n_unique()).sort("table")
    by_table = ", ".join(f"{t} {n}" for t, n in per.iter_rows())
    warnings.warn(
        f"{episodes} committed episode(s) in {uri} have rows missing from damaged or lost part "
        f"files ({by_table}); the next `orgsweep launch` re-runs them (`orgsweep show` and the "
        "agents/transcripts tables are incomplete for them until then)",
        DamagedCommitWarning,
        stacklevel=3,
    )
