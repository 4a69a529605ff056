"""Score sets: which judge's scores a ``runs`` frame carries.

The scores written inline while a sweep ran form the score set ``default``. ``orgsweep rescore``
writes further sets to the ``scores`` table (``sweep.results.schema.SCORES``), one row per run step.
``with_score_set`` swaps a set's columns into ``runs``; steps the set has not scored (yet) keep
their rows with null scores, so a half-finished rescore never mixes two judges silently.

A sweep whose judge ran as its own pass (``cost.judge=deferred``, sweep/judge_pass.py) has
``runs`` rows marked ``judge_deferred`` with null scores; the pass writes their scores to the
``scores`` table as set ``default``, and ``with_deferred_scores`` puts them in place (the judge's
accounting parts too), so readers see one quality per run step as for an inline-judged sweep.
"""

from __future__ import annotations

import polars as pl

from sweep.errors import UserError
from sweep.results.schema import SCORE_COLUMNS, SCORE_KEY

DEFAULT = "default"
# What the deferred judge's pass fills in of a deferred runs row: the scores and the judge's
# accounting part (the totals gpu_s and cost_usd are summed again from the parts).
DEFERRED_COLUMNS = (*SCORE_COLUMNS, "judge_gpu_s", "judge_cost_usd")


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
    sets = scores.select("score_set").unique().collect()["score_set"].to_list()
    available = [n for n in sets if n != DEFAULT]  # default: the sweep's own deferred judge
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


def with_deferred_scores(runs: pl.LazyFrame, scores: pl.LazyFrame) -> pl.LazyFrame:
    """``runs`` with the ``default`` set's scores (the sweep's own judge pass) in the rows
    marked ``judge_deferred``; a deferred step not judged yet keeps null scores, and every
    other row is left as it is (results written before the column have it null)."""
    names = runs.collect_schema().names()
    mine = latest_scores(scores.filter(pl.col("score_set") == DEFAULT)).select(
        *SCORE_KEY, *(pl.col(c).alias(f"{c}__deferred") for c in DEFERRED_COLUMNS)
    )
    deferred = pl.col("judge_deferred").fill_null(False)
    swapped = [
        pl.when(deferred).then(pl.col(f"{c}__deferred")).otherwise(pl.col(c)).alias(c)
        for c in DEFERRED_COLUMNS
    ]
    # gpu_s / cost_usd as sweep.cost.split_columns sums them, from the swapped parts
    parts = pl.when(deferred)
    totals = [
        parts.then(
            pl.when(pl.col("agent_gpu_s").is_null() & pl.col("judge_gpu_s").is_null())
            .then(None)
            .otherwise(pl.col("agent_gpu_s").fill_null(0.0) + pl.col("judge_gpu_s").fill_null(0.0))
        )
        .otherwise(pl.col("gpu_s"))
        .alias("gpu_s"),
        parts.then(pl.col("agent_cost_usd") + pl.col("judge_cost_usd"))
        .otherwise(pl.col("cost_usd"))
        .alias("cost_usd"),
    ]
    return (
        runs.join(mine, on=list(SCORE_KEY), how="left", maintain_order="left")
        .with_columns(swapped)
        .with_columns(totals)
        .select(names)
    )


def awaiting_judge(runs: pl.LazyFrame) -> int:
    """Run steps of ``runs`` (as ``analysis.load`` gives them) whose judge is deferred and has
    not scored them yet."""
    waiting = pl.col("judge_deferred").fill_null(False) & pl.col("judge_failed").is_null()
    return int(runs.filter(waiting).select(pl.len()).collect().item())
