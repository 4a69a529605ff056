"""Score sets: which judge's scores a ``runs`` frame carries.

The scores written inline while a sweep ran form the score set ``default``. ``orgsweep rescore``
writes further sets to the ``scores`` table (``sweep.results.schema.SCORES``), one row per run step.
``with_score_set`` swaps a set's columns into ``runs``; steps the set has not scored (yet) keep
their rows with null scores, so a half-finished rescore never mixes two judges silently.
"""

from __future__ import annotations

import polars as pl

from sweep.errors import UserError
from sweep.results.schema import SCORE_COLUMNS, SCORE_KEY

DEFAULT = "default"


def latest_scores(scores: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (run step, score set): the latest, should a step have been scored twice."""
    return scores.sort("scored_at").unique([*SCORE_KEY, "score_set"], keep="last")


def score_sets(scores: pl.LazyFrame) -> pl.DataFrame:
    """The sets in a ``scores`` table: judge, rubric, rows, failures, mean quality."""
    return (
        latest_scores(scores)
        .group_by("score_set", "judge_model", "rubric_version", "judge_id")
        .agg(
            pl.len().alias("rows"),
            pl.col("judge_failed").sum().alias("judge_failed"),
            pl.col("quality").mean().alias("mean_quality"),
        )
        .sort("score_set")
        .collect()
    )


def with_score_set(runs: pl.LazyFrame, scores: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """``runs`` with the scores of set ``name`` in place of the inline ones."""
    names = runs.collect_schema().names()
    available = scores.select("score_set").unique().collect()["score_set"].to_list()
    if name not in available:
        have = ", ".join([DEFAULT, *sorted(available)])
        raise UserError(
            f"no score set {name!r} in these results; available: {have} (make one with "
            "`orgsweep rescore RESULTS_DIR judge.model=...`)"
        )
    chosen = latest_scores(scores.filter(pl.col("score_set") == name)).select(
        *SCORE_KEY, *SCORE_COLUMNS
    )
    return (
        runs.drop(*SCORE_COLUMNS)
        .join(chosen, on=list(SCORE_KEY), how="left", maintain_order="left")
        .with_columns(pl.lit(name).alias("score_set"))
        .select(names)
    )
