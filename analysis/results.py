"""Lazy loaders: a results directory -> Polars LazyFrames, one attempt per episode.

``runs`` keeps, per ``episode_id``, the rows of its latest committed (attempt, batch);
``agents`` and ``transcripts`` keep only rows of that same commit, so rows of a commit that never
finished (a crash between part files) are invisible and nothing counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow.fs as pafs

from analysis.schema import TABLES
from sweep.store import ResultStore


@dataclass(frozen=True)
class Results:
    runs: pl.LazyFrame
    agents: pl.LazyFrame
    transcripts: pl.LazyFrame

    def tables(self) -> dict[str, pl.LazyFrame]:
        return {"runs": self.runs, "agents": self.agents, "transcripts": self.transcripts}


def _scan(store: ResultStore, table: str) -> pl.LazyFrame:
    schema = TABLES[table]
    if isinstance(store.fs, pafs.LocalFileSystem):
        good = []
        for path in store.parts(table):
            try:
                pl.read_parquet_schema(path)
                good.append(path)
            except Exception:  # unreadable part: the store warns about it elsewhere
                continue
        if good:
            return pl.scan_parquet(good)
    arrow = store.read_table(table)
    return pl.from_arrow(arrow.cast(schema)).lazy()  # type: ignore[union-attr]


def load(
    results_dir: str, *, include_failed: bool = False, score_set: str | None = None
) -> Results:
    """The committed results of ``results_dir`` as LazyFrames ``runs``, ``agents``,
    ``transcripts``. Failed episodes are left out unless ``include_failed``. ``score_set``
    (a name from ``orgsweep rescore``) puts that set's judge scores in ``runs`` in place of the
    inline ``default`` ones (``analysis.scores``)."""
    store = ResultStore(results_dir)
    runs = _scan(store, "runs")
    key = ["episode_id", "attempt", "batch"]
    latest = (
        runs.select(key)
        .unique()
        .sort("attempt", "batch")
        .group_by("episode_id")
        .agg(pl.col("attempt").last(), pl.col("batch").last())
    )
    # unique(): a crash during `orgsweep compact` can leave a row in two part files.
    runs = runs.join(latest, on=key, how="semi").unique(["episode_id", "step"], keep="first")
    if not include_failed:
        runs = runs.filter(pl.col("status") == "ok")
    keys = runs.select(key).unique()
    agents = (
        _scan(store, "agents")
        .join(keys, on=key, how="semi")
        .unique(["episode_id", "step", "agent"], keep="first")
    )
    transcripts = (
        _scan(store, "transcripts")
        .join(keys, on=key, how="semi")
        .unique(["episode_id", "step", "agent", "round", "kind"], keep="first")
    )
    if score_set is not None and score_set != "default":
        from analysis.scores import with_score_set

        runs = with_score_set(runs, _scan(store, "scores"), score_set)
    return Results(runs, agents, transcripts)
