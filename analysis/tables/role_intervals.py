"""CIs over task units for the role columns of the report: unique_share, once_share and the
role Gini (``analysis.emergence``), shown as ``x [lo, hi]``.

Per group, a (unit x role) matrix of slot counts; a resample of the units
(``stats.bootstrap_units_many``, the units' indices resampled) weights each unit by how often
it was drawn. Distinct counts do not add up over units, and a unit drawn twice would repeat,
not add, its roles: the plain bootstrap then puts the distinct share far below the estimate. So
a drawn copy of a unit counts as a new task: the roles only that unit used (in the sample) are
new roles in each copy, while roles several units share stay one role whose count sums over the
draws. The statistics are those of ``analysis.emergence`` on the resulting role counts (the
Gini as the weighted mean absolute difference over 2 x mean); with all weights 1 they are the
point estimates exactly. ``role_tables`` gives the report's role and abstention tables with
these and the ratio CIs of ``analysis.tables.unit_ratios``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from analysis import emergence as em
from analysis import stats
from analysis.tables import unit_ratios as ur
from analysis.tables.intervals import fmt

COLUMNS = ("unique_share", "once_share", "gini")


def with_role_cis(table: pl.DataFrame, rows: pl.LazyFrame, by: Sequence[str]) -> pl.DataFrame:
    """``table`` (``unique_roles`` or ``role_gini`` by ``by``) with its ``COLUMNS`` as
    ``x [lo, hi]``; ``rows`` are agent rows with ``unit`` (``unit_ratios.with_units``)."""
    cols = [c for c in COLUMNS if c in table.columns]
    if table.is_empty() or not cols:
        return table
    counts = (
        rows.filter(pl.col("participate") & (pl.col("role_norm") != ""))
        .group_by(*by, "unit", "role_norm")
        .len()
        .collect()
    )
    groups = counts.partition_by(list(by), as_dict=True)
    shown: dict[str, list[str]] = {c: [] for c in cols}
    for row in table.iter_rows(named=True):
        part = groups.get(tuple(row[b] for b in by))
        cis = _role_cis(part) if part is not None else dict.fromkeys(COLUMNS)
        for c in cols:
            shown[c].append(fmt(row[c], cis[c]))
    return table.with_columns(pl.Series(c, v, dtype=pl.String) for c, v in shown.items())


def _role_cis(part: pl.DataFrame) -> dict[str, Any]:
    wide = part.pivot(on="role_norm", index="unit", values="len").fill_null(0).sort("unit")
    matrix = wide.drop("unit").to_numpy().astype(np.float64)
    shared = (matrix > 0).sum(axis=0) >= 2
    own = matrix[:, ~shared]  # roles of one unit: a column has one nonzero entry
    owner = own.argmax(axis=0)
    own_counts = own.max(axis=0) if own.size else np.zeros(0)

    def stat(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.moveaxis(np.asarray(idx, dtype=np.intp), axis, -1)
        flat = idx.reshape(-1, idx.shape[-1])
        n = matrix.shape[0]
        offset = flat + n * np.arange(flat.shape[0])[:, None]  # times each unit was drawn
        draws = np.bincount(offset.ravel(), minlength=flat.size // flat.shape[1] * n)
        draws = draws.reshape(flat.shape[0], n).astype(np.float64)
        common = draws @ matrix[:, shared]
        values = np.concatenate([common, np.broadcast_to(own_counts, (len(flat), own.shape[1]))], 1)
        weights = np.concatenate([(common > 0).astype(np.float64), draws[:, owner]], axis=1)
        return role_stats(values, weights).reshape(3, *idx.shape[:-1])

    cis = stats.bootstrap_units_many([np.arange(matrix.shape[0])], stat, len(COLUMNS))
    return dict(zip(COLUMNS, cis, strict=True))


def role_stats(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(unique_share, once_share, gini) of rows of role usage counts, each role weighted (how
    many roles it stands for; default 1, and 0 for an unused role), as ``analysis.emergence``
    defines them: distinct / slots, roles used once / distinct, and the Gini of the counts."""
    v = np.atleast_2d(values).astype(np.float64)
    w = (v > 0).astype(np.float64) if weights is None else np.atleast_2d(weights) * (v > 0)
    used, slots = w.sum(axis=-1), (w * v).sum(axis=-1)
    once = (w * (v == 1)).sum(axis=-1)
    order = np.argsort(v, axis=-1)
    vs, ws = np.take_along_axis(v, order, -1), np.take_along_axis(w, order, -1)
    cum = np.cumsum(ws, axis=-1)
    spread = (ws * vs * (2 * cum - ws - used[:, None])).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gini = np.where(used > 1, spread / (used * slots), 0.0)
        return np.stack([used / slots, once / used, gini])


def role_tables(c: Mapping[str, pl.DataFrame], agents_u: pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """The report's role and abstention tables (``c``: ``roles_block``, ``roles``, ``gini``,
    ``reasons``) with CIs over task units: unique_share, once_share and gini (``with_role_cis``),
    per-run means and reason shares as ratios of per-unit sums (``unit_ratios``); ``agents_u``:
    agent rows with ``unit``."""
    out = {}
    for name, by in (("roles_block", ("block", "backend")), ("roles", em.BY), ("gini", em.BY)):
        table = with_role_cis(c[name], agents_u, by)
        if name != "gini":
            per_unit = (
                em.unique_roles(agents_u, by=(*by, "unit"))
                .with_columns(
                    u=pl.col("roles_per_run") * pl.col("runs"),
                    share=pl.col("run_unique_share") * pl.col("runs"),
                )
                .collect()
            )
            means = {
                "roles_per_run": ("u", "runs", 1.0),
                "run_unique_share": ("share", "runs", 1.0),
            }
            table = ur.with_ratio_ci(table, per_unit, by, means)
        out[name] = table
    by_unit = (*em.BY, "unit")
    reasons = em.abstention_by_reason(agents_u, by=by_unit).collect()
    idle = reasons.group_by(by_unit).agg(pl.col("slots").sum().alias("idle"))
    grid = idle.join(reasons.select(*em.BY, "reason").unique(), on=em.BY, nulls_equal=True)
    per_reason = grid.join(
        reasons.select(*by_unit, "reason", "slots"),
        on=[*by_unit, "reason"],
        how="left",
        nulls_equal=True,
    ).with_columns(pl.col("slots").fill_null(0))
    out["reasons"] = ur.with_ratio_ci(
        c["reasons"], per_reason, (*em.BY, "reason"), {"share": ("slots", "idle", 1.0)}
    )
    return out
