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


def load(results_dir: str, *, include_failed: bool = False) -> Results:
    """The committed results of ``results_dir`` as LazyFrames ``runs``, ``agents``,
    ``transcripts``. Failed episodes are left out unless ``include_failed``."""
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
    runs = runs.join(latest, on=key, how="semi")
    if not include_failed:
        runs = runs.filter(pl.col("status") == "ok")
    keys = runs.select(key).unique()
    agents = _scan(store, "agents").join(keys, on=key, how="semi")
    transcripts = _scan(store, "transcripts").join(keys, on=key, how="semi")
    return Results(runs, agents, transcripts)
