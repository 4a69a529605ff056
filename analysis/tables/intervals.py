"""Bootstrap CIs over task units for the report's tables, shown as ``x [lo, hi]``.

A table row is a group of runs; each mean column of it is a mean of a per-run column. Its CI
resamples the group's task units (``analysis.tables.units``): the per-unit means are the
independent observations, run steps of one task are not. Columns not named here stay as they
are (counts such as ``runs``, or descriptive spreads such as ``Q_sd``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

from analysis import stats
from analysis.tables.units import with_episode_keys

MEANS: dict[str, str] = {
    "Q": "quality",
    "M": "mission_relevance",
    "T": "rounds",
    "R": "risk",
    "B": "balance",
    "wall_s": "wall_s",
    "tokens": "tokens",
    "rounds": "rounds",
    "participation": "participation",
    "HD": "hierarchy_depth",
    "unique_roles": "n_unique_roles",
    "completeness": "completeness",
    "actionability": "actionability",
    "Q_seq": "quality",
    "Q_coord": "quality",
    "cost_usd": "cost_usd",
}
"""Table column -> the per-run column it averages (the report's tables)."""
COUNTS = (
    "episodes", "run_steps", "runs", "units", "tasks", "n", "n_seq", "n_coord", "n_agents", "N",
    "at", "slots", "unique_roles", "idle", "voluntary", "directed", "other", "pairs", "unchanged",
    "recovery_steps", "calls", "calls_estimated", "calls_mismatched", "cells", "planned", "ok",
    "failed", "thin_cells",
)  # fmt: skip
"""Report columns that are counts (or design values) and carry no CI (Definitions)."""
TOTAL = "_total_"
"""Report columns named ``*_total_*`` are totals over committed rows (the Cost section): no CI."""


def is_count(column: str) -> bool:
    """True for a report column that is a count, a design value or a total (no CI)."""
    return column in COUNTS or TOTAL in column


TESTS = ("statistic", "p", "p_holm", "p_run_level")
"""Report columns that are test statistics and p-values: not estimates, no CI."""
NO_CI = (math.nan, math.nan)
"""The interval of an estimate from fewer than 2 task units: shown ``[n/a]``."""
FILTERS: dict[str, pl.Expr] = {
    "Q_seq": pl.col("protocol") == "sequential",
    "Q_coord": pl.col("protocol") == "coordinator",
}


def with_ci(
    table: pl.DataFrame,
    rows: pl.DataFrame,
    by: Sequence[str],
    columns: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """``table`` with every column of ``columns`` (default ``MEANS``) it has replaced by the
    string ``"x [lo, hi]"``: x the table's value, [lo, hi] the 95% bootstrap CI over the task
    units of the ``rows`` matching the table row on ``by``."""
    cols = {k: v for k, v in (columns or MEANS).items() if k in table.columns and v in rows.columns}
    if table.is_empty() or not cols:
        return table
    keyed = with_episode_keys(rows.lazy()).collect()
    cis: dict[str, list[str]] = {c: [] for c in cols}
    groups = keyed.partition_by(list(by), as_dict=True)
    for row in table.iter_rows(named=True):
        part = groups.get(tuple(row[b] for b in by))
        found = _unit_cis(part, cols) if part is not None else {}
        for col in cols:
            cis[col].append(_fmt(row[col], found.get(col, (math.nan, math.nan))))
    return table.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in cis.items())


def _unit_cis(part: pl.DataFrame, cols: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """Each column's CI over the part's task units: columns observed on every unit share one
    resampling (``stats.bootstrap_mean_cis``), the others (a filter, missing values) alone."""
    plain = {c: src for c, src in cols.items() if c not in FILTERS}
    means = (
        part.group_by("unit")
        .agg(pl.col(src).cast(pl.Float64).mean() for src in set(plain.values()))
        .sort("unit")  # a fixed resampling: the same results give the same CIs
    )
    complete = [c for c, src in plain.items() if means[src].null_count() == 0]
    out = dict(
        zip(
            complete,
            stats.bootstrap_mean_cis([means[plain[c]].to_numpy() for c in complete]),
            strict=True,
        )
    )
    for col in set(cols) - set(complete):
        out[col] = _unit_ci(part, cols[col], FILTERS.get(col))
    return out if means.height >= 2 else dict.fromkeys(out, NO_CI)  # one task: no interval


def _unit_ci(part: pl.DataFrame, src: str, where: pl.Expr | None) -> tuple[float, float]:
    if where is not None:
        part = part.filter(where)
    means = (
        part.filter(pl.col(src).is_not_null()).group_by("unit").agg(pl.col(src).mean()).sort("unit")
    )
    if means.height < 2:
        return NO_CI
    return stats.bootstrap_ci(means[src].cast(pl.Float64).to_numpy(), n_resamples=999)


def fmt(value: float | None, ci: Sequence[float | None] | None) -> str:
    """``x [lo, hi]`` with 3 significant decimals (``x`` alone where there is no CI)."""
    lo, hi = (ci or (None, None))[:2]
    return _fmt(value, (math.nan if lo is None else lo, math.nan if hi is None else hi))


def _fmt(value: float | None, ci: tuple[float, float]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{_num(value)} [n/a]"
    return f"{_num(value)} [{_num(lo)}, {_num(hi)}]"


def _num(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    return f"{v:.1f}" if a >= 100 else f"{v:.3f}"
