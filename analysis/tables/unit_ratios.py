"""CIs over task units for the report's ratio and correlation columns (RSI, shares, tokens per
quality point, Spearman's r), shown as ``x [lo, hi]``.

Each such column is a ratio of sums over a group's rows (RSI = unchanged / pairs, ...). The
same query run per (group, unit) gives each unit's sums; the bootstrap resamples units with
their sums together (``analysis.stats.bootstrap_units``), so a task's correlated rows move as
one. Spearman's r is the Pearson correlation of the group's ranks, from per-unit sums of the
ranks, their squares and products; ranks are computed once on the group (not per resample), an
approximation that keeps it to one matrix product per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from analysis import stats
from analysis.tables.intervals import fmt
from analysis.tables.units import with_episode_keys

Ratio = tuple[str, str, float]
"""(numerator sum column, denominator sum column, scale) of a ratio column."""


def with_units(rows: pl.LazyFrame, runs: pl.LazyFrame) -> pl.LazyFrame:
    """``rows`` (agent rows, ...) with their episode's task ``unit``."""
    units = with_episode_keys(runs).select("episode_id", "unit").unique()
    return rows.join(units, on="episode_id", how="left")


def with_ratio_ci(
    table: pl.DataFrame, per_unit: pl.DataFrame, by: Sequence[str], ratios: Mapping[str, Ratio]
) -> pl.DataFrame:
    """``table`` with each column of ``ratios`` as ``x [lo, hi]`` from ``per_unit`` (the same
    query by (``by``, unit), holding the sums)."""
    cols = {k: v for k, v in ratios.items() if k in table.columns}
    if table.is_empty() or not cols:
        return table
    groups = per_unit.sort("unit").partition_by(list(by), as_dict=True)  # a fixed resampling
    shown: dict[str, list[str]] = {c: [] for c in cols}
    for row in table.iter_rows(named=True):
        part = groups.get(tuple(row[b] for b in by))
        for col, (num, den, scale) in cols.items():
            ci = _ratio_ci(part, num, den, scale) if part is not None else None
            shown[col].append(fmt(row[col], ci))
    return table.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in shown.items())


def spearman_per_unit(points: pl.LazyFrame, by: Sequence[str], x: str, y: str) -> pl.DataFrame:
    """Per (group, unit): sums of the group's ranks of ``x`` and ``y``, squares and products
    (``points`` carry ``unit``: ``with_units``)."""
    rx, ry = pl.col(x).rank().over(by), pl.col(y).rank().over(by)
    return (
        points.filter(pl.col(x).is_not_null() & pl.col(y).is_not_null())
        .with_columns(_rx=rx, _ry=ry)
        .group_by(*by, "unit")
        .agg(
            pl.len().alias("n"),
            pl.col("_rx").sum().alias("sx"),
            pl.col("_ry").sum().alias("sy"),
            (pl.col("_rx") ** 2).sum().alias("sxx"),
            (pl.col("_ry") ** 2).sum().alias("syy"),
            (pl.col("_rx") * pl.col("_ry")).sum().alias("sxy"),
        )
        .collect()
    )


def with_spearman_ci(
    table: pl.DataFrame, per_unit: pl.DataFrame, by: Sequence[str], col: str = "spearman_r"
) -> pl.DataFrame:
    """``table`` with ``col`` as ``r [lo, hi]`` (module docstring)."""
    return _with_sums_ci(table, per_unit, by, col, ("n", "sx", "sy", "sxx", "syy", "sxy"), _pearson)


def with_sd_ci(
    table: pl.DataFrame, rows: pl.LazyFrame, by: Sequence[str], col: str = "Q_sd",
    src: str = "quality",
) -> pl.DataFrame:  # fmt: skip
    """``table`` with ``col`` (the sample SD of ``src`` over a group's rows) as ``sd [lo, hi]``,
    units resampled with their row counts, sums and sums of squares; ``rows`` carry ``unit``."""
    if table.is_empty() or col not in table.columns:
        return table
    x = pl.col(src).cast(pl.Float64)
    sums = (
        rows.filter(x.is_not_null())
        .group_by(*by, "unit")
        .agg(pl.len().alias("n"), x.sum().alias("s"), (x * x).sum().alias("ss"))
        .collect()
    )
    return _with_sums_ci(table, sums, by, col, ("n", "s", "ss"), _sd)


def _with_sums_ci(
    table: pl.DataFrame,
    per_unit: pl.DataFrame,
    by: Sequence[str],
    col: str,
    sums: Sequence[str],
    stat: Callable[..., np.ndarray],
) -> pl.DataFrame:
    """``table`` with ``col`` as ``x [lo, hi]``: ``stat`` of the ``sums`` columns of
    ``per_unit`` (one row per group and unit), units resampled with their sums."""
    if table.is_empty() or col not in table.columns:
        return table
    groups = per_unit.sort("unit").partition_by(list(by), as_dict=True)  # a fixed resampling
    shown = []
    for row in table.iter_rows(named=True):
        part = groups.get(tuple(row[b] for b in by))
        ci = None
        if part is not None and row[col] is not None:
            ci = stats.bootstrap_units([part[c].cast(pl.Float64).to_numpy() for c in sums], stat)
        shown.append(fmt(row[col], ci))
    return table.with_columns(pl.Series(col, shown, dtype=pl.String))


def _sd(n: np.ndarray, s: np.ndarray, ss: np.ndarray, axis: int = -1) -> np.ndarray:
    N, S = n.sum(axis=axis), s.sum(axis=axis)
    return np.sqrt(np.maximum(ss.sum(axis=axis) - S**2 / N, 0.0) / (N - 1))


def _ratio_ci(part: pl.DataFrame, num: str, den: str, scale: float) -> tuple[float, float]:
    n = part[num].cast(pl.Float64).fill_null(0).to_numpy()
    d = part[den].cast(pl.Float64).fill_null(0).to_numpy()

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return scale * a.sum(axis=axis) / b.sum(axis=axis)

    return stats.bootstrap_units([n, d], ratio)


def _pearson(
    n: np.ndarray, sx: np.ndarray, sy: np.ndarray, sxx: np.ndarray, syy: np.ndarray,
    sxy: np.ndarray, axis: int = -1,
) -> np.ndarray:  # fmt: skip
    N, X, Y = n.sum(axis=axis), sx.sum(axis=axis), sy.sum(axis=axis)
    cov = sxy.sum(axis=axis) - X * Y / N
    vx, vy = sxx.sum(axis=axis) - X**2 / N, syy.sum(axis=axis) - Y**2 / N
    return cov / np.sqrt(vx * vy)
