"""95% confidence intervals for the figures' error bars: a percentile bootstrap over TASKS.

Run steps of one task are not independent (same task, same difficulty), so the resampling
unit is the task: per group, the mean Q of each task, then ``B`` resamples of those task means
with replacement. A stand-in until ``analysis.stats`` provides the report's own intervals; the
figures only need ``Q_lo`` / ``Q_hi`` columns beside the table's ``Q``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

B = 2000
LEVEL = 0.95
SEED = 0


def task_bootstrap(
    runs: pl.DataFrame, by: Sequence[str], value: str = "quality", unit: str = "task_id"
) -> pl.DataFrame:
    """Per group of ``by``: ``Q_lo`` and ``Q_hi``, the 95% bootstrap CI of the mean of
    ``value`` over ``unit`` means (null where the group has a single task)."""
    per_task = (
        runs.filter(pl.col(value).is_not_null())
        .group_by(*by, unit)
        .agg(pl.col(value).mean().alias("_m"))
        .sort(*by, unit)
    )
    rng = np.random.default_rng(SEED)
    rows = []
    for key, part in per_task.group_by(list(by), maintain_order=True):
        lo, hi = _interval(part["_m"].to_numpy(), rng)
        rows.append((*key, lo, hi))
    schema = {c: runs.schema[c] for c in by} | {"Q_lo": pl.Float64, "Q_hi": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _interval(means: np.ndarray, rng: np.random.Generator) -> tuple[float | None, float | None]:
    if means.size < 2:
        return None, None
    draws = means[rng.integers(0, means.size, size=(B, means.size))].mean(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return float(lo), float(hi)


def with_ci(
    table: pl.DataFrame, runs: pl.DataFrame, by: Sequence[str], value: str = "quality"
) -> pl.DataFrame:
    """``table`` with ``Q_lo`` / ``Q_hi`` joined on ``by`` (kept if the table has them)."""
    if {"Q_lo", "Q_hi"} <= set(table.columns) or table.is_empty():
        return table
    return table.join(task_bootstrap(runs, by, value), on=list(by), how="left")


KEYS = ("block", "model", "roles", "arm", "protocol", "n_agents", "level")


def binder(runs: pl.DataFrame) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """``with_ci`` over ``runs`` for any table whose group keys are among ``KEYS``."""

    def bind(table: pl.DataFrame) -> pl.DataFrame:
        by = [k for k in KEYS if k in table.columns and k in runs.columns]
        return with_ci(table, runs, by)

    return bind
