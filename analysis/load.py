"""Lazy loaders: a results directory -> Polars LazyFrames, one attempt per episode.

``runs`` keeps, per ``episode_id``, the rows of its latest committed attempt; ``agents`` and
``transcripts`` keep only rows of that same (episode, attempt), so rows of an attempt that never
committed (a crash between part files) are invisible.
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
    latest = runs.group_by("episode_id").agg(pl.col("attempt").max())
    runs = runs.join(latest, on=["episode_id", "attempt"], how="semi")
    if not include_failed:
        runs = runs.filter(pl.col("status") == "ok")
    keys = runs.select("episode_id", "attempt").unique()
    agents = _scan(store, "agents").join(keys, on=["episode_id", "attempt"], how="semi")
    transcripts = _scan(store, "transcripts").join(keys, on=["episode_id", "attempt"], how="semi")
    return Results(runs, agents, transcripts)
