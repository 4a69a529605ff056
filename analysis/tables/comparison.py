"""One pairwise comparison at the task level (``analysis.tables.inference`` runs them).

Rows (episodes, or run steps with ``per_step``) are first averaged per task ``unit``; the test,
the means, the deltas and the effect sizes are of those unit means, and the bootstrap resamples
units (pairs of units when the design is paired). The run-level test is kept beside it
(``run_level_*``) so a reader sees what pseudo-replication would have claimed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as scipy_stats

from analysis import stats


def compare_units(
    ga: pl.DataFrame, gb: pl.DataFrame, metric: str, keys: tuple[str, ...]
) -> dict[str, Any]:
    """The statistics of a against b (``stats.json`` pair entry fields after the identity)."""
    paired = _one_to_one(ga, gb, keys)
    ua, ub = _unit_means(ga, metric), _unit_means(gb, metric)
    if paired:
        units = sorted(ua)
        xa, xb = np.array([ua[u] for u in units]), np.array([ub[u] for u in units])
        primary, method = wilcoxon(xa, xb)
        delta, pct, d_z, d_av, g = stats.bootstrap_ci2(xa, xb, _paired_stats, paired=True)
        d_z_point = stats.cohens_dz(xa, xb)
    else:
        xa, xb = np.array(list(ua.values())), np.array(list(ub.values()))
        primary, method = stats.mann_whitney(xa, xb), "auto"
        delta, pct, d_av, g = stats.bootstrap_ci2(xa, xb, _unpaired_stats, paired=False)
        d_z, d_z_point = (math.nan, math.nan), math.nan
    if min(xa.size, xb.size) < 2:  # one task: no interval (a bootstrap would collapse to it)
        delta = pct = d_z = d_av = g = (math.nan, math.nan)
    mean_a, mean_b = float(xa.mean()), float(xb.mean())
    run_test = _run_level(ga, gb, metric, keys)
    rows = pl.concat([ga.with_columns(_g=pl.lit("a")), gb.with_columns(_g=pl.lit("b"))])
    icc = stats.clustered(
        rows[metric].to_numpy(), (rows["_g"] + "|" + rows["unit"]).to_list(), rows["unit"].to_list()
    )
    return {
        "paired": paired,
        "n_a": ga.height,
        "n_b": gb.height,
        "units_a": xa.size,
        "units_b": xb.size,
        "mean_a": mean_a,
        "mean_b": mean_b,
        "ci_a": interval(mean_ci(xa)),
        "ci_b": interval(mean_ci(xb)),
        "delta": mean_a - mean_b,
        "ci": interval(delta),
        "delta_pct": _num((mean_a - mean_b) / mean_b * 100 if mean_b else math.nan),
        "delta_pct_ci": interval(pct),
        "test": primary.test,
        "method": method,
        "statistic": _num(primary.statistic),
        "p_value": _num(primary.p_value),
        "min_attainable_p": _num(stats.min_attainable_p(primary.test, xa.size, xb.size)),
        "d_z": _num(d_z_point),
        "d_z_ci": interval(d_z),
        "cohens_d": _num(stats.cohens_d(xa, xb)),
        "cohens_d_ci": interval(d_av),
        "hedges_g": _num(stats.hedges_g(xa, xb)),
        "hedges_g_ci": interval(g),
        "icc": _num(icc.icc),
        "icc_ci": interval(icc.icc_ci),
        "n_eff": _num(icc.n_eff),
        "n_eff_ci": interval(icc.n_eff_ci),
        "run_level_test": run_test.test,
        "run_level_p": _num(run_test.p_value),
    }


def wilcoxon(x: np.ndarray, y: np.ndarray) -> tuple[stats.PairTest, str]:
    """``stats.wilcoxon_paired``, except for at most 13 pairs with ties or zero differences,
    where scipy's "auto" runs a permutation test taking up to ~16 s per call (n = 13); there
    scipy's exact null distribution (conservative with ties) is used, instantly."""
    d = x - y
    nonzero = np.abs(d[d != 0])
    if 0 < x.size <= 13 and nonzero.size and np.unique(nonzero).size < d.size:
        res = scipy_stats.wilcoxon(x, y, method="exact")
        test = stats.PairTest("wilcoxon", float(res.statistic), float(res.pvalue), x.size, y.size)
        return test, "exact"
    return stats.wilcoxon_paired(x, y), "auto"


def mean_ci(x: np.ndarray, n_resamples: int = 2000) -> tuple[float, float]:
    """``stats.bootstrap_ci`` of a mean over units, (nan, nan) from fewer than 2 units."""
    return stats.bootstrap_ci(x, n_resamples=n_resamples) if x.size >= 2 else (math.nan, math.nan)


def _paired_stats(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    d = a - b
    ma, mb = a.mean(axis=axis), b.mean(axis=axis)
    sd_av = np.sqrt((a.var(axis=axis, ddof=1) + b.var(axis=axis, ddof=1)) / 2)
    return np.stack(
        [
            d.mean(axis=axis),
            (ma - mb) / mb * 100,
            d.mean(axis=axis) / d.std(axis=axis, ddof=1),
            (ma - mb) / sd_av,
            _hedges(a, b, axis),
        ]
    )


def _unpaired_stats(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    ma, mb = a.mean(axis=axis), b.mean(axis=axis)
    sd_av = np.sqrt((a.var(axis=axis, ddof=1) + b.var(axis=axis, ddof=1)) / 2)
    return np.stack([ma - mb, (ma - mb) / mb * 100, (ma - mb) / sd_av, _hedges(a, b, axis)])


def _hedges(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """``stats.hedges_g`` along ``axis`` (pooled SD, small-sample factor J)."""
    na, nb = a.shape[axis], b.shape[axis]
    ss = a.var(axis=axis) * na + b.var(axis=axis) * nb
    pooled = np.sqrt(ss / (na + nb - 2))
    return (a.mean(axis=axis) - b.mean(axis=axis)) / pooled * (1 - 3 / (4 * (na + nb) - 9))


def _unit_means(g: pl.DataFrame, metric: str) -> dict[str, float]:
    means = g.group_by("unit").agg(pl.col(metric).mean()).sort("unit")
    return dict(zip(means["unit"].to_list(), means[metric].to_list(), strict=True))


def _one_to_one(ga: pl.DataFrame, gb: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    """Every row of a has exactly one row of b with the same keys, and the reverse."""
    if ga.height != gb.height:
        return False
    ka, kb = ga.select(keys), gb.select(keys)
    if ka.is_duplicated().any() or kb.is_duplicated().any():
        return False
    return ka.join(kb, on=list(keys), how="inner", nulls_equal=True).height == ga.height


def _run_level(
    ga: pl.DataFrame, gb: pl.DataFrame, metric: str, keys: tuple[str, ...]
) -> stats.PairTest:
    """The row-level test (every row independent): what the report must not follow."""
    if _one_to_one(ga, gb, keys):
        j = ga.join(gb, on=list(keys), how="inner", suffix="_b", nulls_equal=True)
        return wilcoxon(j[metric].to_numpy(), j[f"{metric}_b"].to_numpy())[0]
    return stats.mann_whitney(ga[metric].to_numpy(), gb[metric].to_numpy())


def interval(v: tuple[float, float]) -> list[float | None]:
    """A (lo, hi) interval for stats.json: non-finite bounds become None."""
    return [_num(v[0]), _num(v[1])]


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
