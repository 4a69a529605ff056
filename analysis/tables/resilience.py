"""The Resilience Index against the no-shock arm (orgsweep's operationalisation; the paper leaves
RI undefined). docs/design/inference.md has the reasoning.

Within a stratum (block, backend and every design factor, role mode included) a shocked arm is
compared with the block's no-shock arm on the same task units and steps:

- ``drop`` of an arm = Q from the shock step on / Q before it (means over units);
- ``RI`` = drop(shocked) / drop(no-shock): 1 = the shock cost nothing beyond the drift every
  episode shows from step to step (the no-shock arm itself drifts); the no-shock arm against
  itself is 1 by construction, shown as the reference row;
- ``recovery_steps``: steps after the shock until the shocked arm's Q at a step is back to at
  least ``RECOVERED`` of the no-shock arm's Q at that step (0 = never fell below; null = not
  within the episode);
- the CI of RI is a paired bootstrap over the units both arms ran.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as scipy_stats

from analysis import stats
from analysis.tables._common import DESIGN, with_derived
from analysis.tables.units import CONTEXT, with_episode_keys

RECOVERED = 0.95
BY = (*CONTEXT, *DESIGN)


def resilience(runs: pl.LazyFrame) -> pl.DataFrame:
    """Per stratum with shocked episodes and a no-shock arm (module docstring): shock, the shock
    step ``at``, units, Q_before, Q_after, drop and RI, each with ``_lo``/``_hi`` bounds, and
    recovery_steps. Strata whose shocked episodes have no no-shock arm are left out."""
    rows = with_episode_keys(with_derived(runs)).filter(pl.col("quality").is_not_null()).collect()
    out: list[dict[str, Any]] = []
    for key, part in rows.partition_by(list(BY), as_dict=True, maintain_order=True).items():
        base = part.filter(pl.col("shock_kind") == "")
        kinds = sorted(set(part["shock_kind"].to_list()) - {""})
        if base.is_empty() or not kinds:
            continue
        for kind in kinds:
            shocked = part.filter(pl.col("shock_kind") == kind)
            if not set(shocked["unit"].to_list()) & set(base["unit"].to_list()):
                continue
            at = int(shocked["shock_step"].min())  # type: ignore[arg-type]
            out.append({**dict(zip(BY, key, strict=True)), **_row("", base, base, at)})
            out.append({**dict(zip(BY, key, strict=True)), **_row(kind, shocked, base, at)})
    schema: dict[str, Any] = {
        **{c: rows.schema[c] for c in BY},
        "shock": pl.String,
        "at": pl.Int64,
        "units": pl.Int64,
        "Q_before": pl.Float64,
        "Q_after": pl.Float64,
        "drop": pl.Float64,
        **dict.fromkeys(
            ("Q_before_lo", "Q_before_hi", "Q_after_lo", "Q_after_hi", "drop_lo", "drop_hi"),
            pl.Float64,
        ),
        "RI": pl.Float64,
        "RI_lo": pl.Float64,
        "RI_hi": pl.Float64,
        "recovery_steps": pl.Int64,
    }
    table = pl.DataFrame(out, schema=schema, orient="row").unique(maintain_order=True)
    # strata in a fixed order (the rows' order after a join is not), the reference row first
    return table.sort([*BY, "shock"], nulls_last=True, maintain_order=True)


def _row(kind: str, arm: pl.DataFrame, base: pl.DataFrame, at: int) -> dict[str, Any]:
    a, b = _before_after(arm, at), _before_after(base, at)
    both = a.join(b, on="unit", suffix="_n").drop_nulls().sort("unit")  # a fixed resampling
    cols = [both[c].to_numpy() for c in ("before", "after", "before_n", "after_n")]
    ri = _ri(cols[0], cols[1], cols[2], cols[3])
    lo, hi = _ci(cols) if kind else (1.0, 1.0)
    by_step = _by_step(arm, base, at)
    (b_lo, b_hi), (a_lo, a_hi) = stats.bootstrap_mean_cis(cols[:2]) if both.height else [(0, 0)] * 2
    d_lo, d_hi = stats.bootstrap_units([cols[1], cols[0]], _drop)
    return {
        "shock": kind or "none",
        "at": at,
        "units": both.height,
        "Q_before": float(cols[0].mean()) if both.height else None,
        "Q_after": float(cols[1].mean()) if both.height else None,
        "drop": float(cols[1].mean() / cols[0].mean()) if both.height else None,
        "Q_before_lo": _num(b_lo),
        "Q_before_hi": _num(b_hi),
        "Q_after_lo": _num(a_lo),
        "Q_after_hi": _num(a_hi),
        "drop_lo": _num(d_lo),
        "drop_hi": _num(d_hi),
        "RI": _num(float(ri)) if kind else 1.0,
        "RI_lo": _num(lo),
        "RI_hi": _num(hi),
        "recovery_steps": by_step,
    }


def _before_after(arm: pl.DataFrame, at: int) -> pl.DataFrame:
    q = pl.col("quality")
    return arm.group_by("unit").agg(
        before=q.filter(pl.col("step") < at).mean(), after=q.filter(pl.col("step") >= at).mean()
    )


def _by_step(arm: pl.DataFrame, base: pl.DataFrame, at: int) -> int | None:
    q = pl.col("quality")
    s = arm.filter(pl.col("step") >= at).group_by("step").agg(q.mean())
    n = base.filter(pl.col("step") >= at).group_by("step").agg(q.mean().alias("qn"))
    for step, qs, qn in s.join(n, on="step").sort("step").iter_rows():
        if qs >= RECOVERED * qn:
            return int(step) - at
    return None


def _drop(after: Any, before: Any, axis: int = -1) -> Any:
    return np.mean(after, axis=axis) / np.mean(before, axis=axis)


def _ri(before: Any, after: Any, before_n: Any, after_n: Any, axis: int = -1) -> Any:
    drop = np.mean(after, axis=axis) / np.mean(before, axis=axis)
    drop_n = np.mean(after_n, axis=axis) / np.mean(before_n, axis=axis)
    return drop / drop_n


def _ci(cols: list[np.ndarray]) -> tuple[float, float]:
    if cols[0].size < 2:
        return (math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        res = scipy_stats.bootstrap(
            tuple(cols),
            _ri,
            paired=True,
            vectorized=True,
            n_resamples=999,
            method="percentile",
            rng=np.random.default_rng(0),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
