"""The report's statistics (``stats.json``): per factor, within each stratum of ``STRATA`` where
the factor takes two or more values, a Kruskal-Wallis test across its values and pairwise
comparisons; Holm's correction over every p-value reported.

- Pairs: every pair of protocol arms, models or role modes (``a`` = the higher mean, so deltas
  are positive); for N and level, the extremes (``a`` = the largest N / the last level, ``b`` =
  the smallest / the first: the paper's "64 -> 256" and "L1 -> L4").
- Primary pairwise test: Mann-Whitney U (two-sided); Wilcoxon signed-rank when the design is
  paired, i.e. every run of ``a`` has exactly one run of ``b`` with the same task, step, seed,
  shock and other design factors (``MATCH`` + ``DESIGN``), which the sweep's grids give across
  protocols, models and N. Mann-Whitney and Welch's t are reported for every pair too.
  ``method`` is scipy's: "auto", or "exact" for <= 13 pairs with ties (see ``_wilcoxon``).
- Effect sizes: Cohen's d with the paper's average-variance SD, Hedges' g.
- Holm: one family, every ``p_value`` in the file (omnibus and pairwise).

This is an edge of the analysis: it collects the runs once and computes in numpy/scipy.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats as scipy_stats

from analysis import stats
from analysis.tables._common import DESIGN, MATCH, with_derived
from analysis.tables.paper import STRATA


@dataclass(frozen=True)
class Family:
    column: str  # the runs column compared
    factor: str  # its name in stats.json
    pairs: str  # "all" | "extremes"


FAMILIES = (
    Family("arm", "protocol", "all"),
    Family("n_agents", "n_agents", "extremes"),
    Family("model", "model", "all"),
    Family("level", "level", "extremes"),
    Family("roles", "roles", "all"),
)
HOLM_FAMILY = "every p_value in stats.json (omnibus and comparisons) as one family"


def statistics(runs: pl.LazyFrame | pl.DataFrame, metric: str = "quality") -> dict[str, Any]:
    """``{"omnibus": [...], "comparisons": [...], ...}`` for ``metric`` (module docstring)."""
    cols = sorted({*DESIGN, *MATCH, "block", metric})
    df = (
        with_derived(runs.lazy())
        .select(cols)
        .filter(pl.col(metric).is_not_null())
        .sort(cols)
        .collect()
    )
    omnibus: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        # scipy warns of precision loss when one group's values are all equal (common with
        # 1/16-step quality scores in small cells); the tests stay defined and are reported.
        warnings.simplefilter("ignore", RuntimeWarning)
        _tests(df, metric, omnibus, comparisons)
    entries = [*omnibus, *comparisons]
    adjusted = stats.holm([_nan(e["p_value"]) for e in entries])
    for e, p in zip(entries, adjusted, strict=True):
        e["p_holm"] = _num(p)
    return {
        "metric": metric,
        "holm": HOLM_FAMILY,
        "n_tests": sum(e["p_value"] is not None for e in entries),
        "source": "analysis.tables.inference.statistics",
        "omnibus": omnibus,
        "comparisons": comparisons,
    }


def _tests(
    df: pl.DataFrame, metric: str, omnibus: list[dict[str, Any]], comparisons: list[dict[str, Any]]
) -> None:
    for fam in FAMILIES:
        strata = STRATA[fam.column]
        # What pairs a run with one of another group: same task, step, seed, shock and every
        # other design factor (a 64-bit hash of them, compared in numpy).
        match = [*MATCH, *(d for d in DESIGN if d != fam.column)]
        keyed = df.with_columns(_key=pl.struct(match).hash())
        for key, part in keyed.partition_by(strata, as_dict=True, maintain_order=True).items():
            groups = {k[0]: g for k, g in part.partition_by(fam.column, as_dict=True).items()}
            if len(groups) < 2:
                continue
            stratum = dict(zip(strata, key, strict=True))
            values = {k: g[metric].to_numpy() for k, g in groups.items()}
            omnibus.append(_omnibus(fam, stratum, metric, values))
            for a, b in _pairs(values, fam.pairs):
                comparisons.append(_pair(fam, stratum, metric, groups[a], groups[b], a, b))


def find(
    comparisons: Iterable[dict[str, Any]], factor: str, pair: set[Any], **stratum: Any
) -> dict[str, Any] | None:
    """The comparison of ``factor`` between the two values in ``pair`` within ``stratum``."""
    for c in comparisons:
        if c["factor"] == factor and {c["a"], c["b"]} == pair and c["stratum"] == stratum:
            return c
    return None


def _omnibus(
    fam: Family, stratum: dict[str, Any], metric: str, values: dict[Any, np.ndarray]
) -> dict[str, Any]:
    res = stats.kruskal({str(k): v.tolist() for k, v in values.items()})
    return {
        "factor": fam.factor,
        "column": fam.column,
        "stratum": stratum,
        "metric": metric,
        "test": res.test,
        "H": _num(res.statistic),
        "p_value": _num(res.p_value),
        "n": res.n,
        "k": res.k,
        "groups": sorted(values),
    }


def _pairs(values: dict[Any, np.ndarray], how: str) -> list[tuple[Any, Any]]:
    keys = sorted(values)
    if how == "extremes":
        return [(keys[-1], keys[0])]
    return [
        (x, y) if values[x].mean() >= values[y].mean() else (y, x)
        for x, y in itertools.combinations(keys, 2)
    ]


def _pair(
    fam: Family,
    stratum: dict[str, Any],
    metric: str,
    ga: pl.DataFrame,
    gb: pl.DataFrame,
    a: Any,
    b: Any,
) -> dict[str, Any]:
    x, y = ga[metric].to_numpy(), gb[metric].to_numpy()
    pairs = _matched(ga, gb, metric)
    mwu, welch = stats.mann_whitney(x, y), stats.welch_t(x, y)
    primary, method = _wilcoxon(*pairs) if pairs is not None else (mwu, "auto")
    mean_a, mean_b = float(x.mean()), float(y.mean())
    return {
        "factor": fam.factor,
        "column": fam.column,
        "stratum": stratum,
        "a": a,
        "b": b,
        "metric": metric,
        "paired": pairs is not None,
        "n_a": int(x.size),
        "n_b": int(y.size),
        "mean_a": mean_a,
        "mean_b": mean_b,
        "delta_pct": _num((mean_a - mean_b) / mean_b * 100 if mean_b else math.nan),
        "test": primary.test,
        "method": method,
        "statistic": _num(primary.statistic),
        "p_value": _num(primary.p_value),
        "mwu_u": _num(mwu.statistic),
        "mwu_p": _num(mwu.p_value),
        "welch_t": _num(welch.statistic),
        "welch_p": _num(welch.p_value),
        "cohens_d": _num(stats.cohens_d(x, y)),
        "hedges_g": _num(stats.hedges_g(x, y)),
    }


def _wilcoxon(x: np.ndarray, y: np.ndarray) -> tuple[stats.PairTest, str]:
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


def _matched(
    ga: pl.DataFrame, gb: pl.DataFrame, metric: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Aligned (a, b) values when the runs pair one-to-one on their ``_key``; else None."""
    ka, kb = ga["_key"].to_numpy(), gb["_key"].to_numpy()
    if ka.size != kb.size:
        return None
    ia, ib = np.argsort(ka, kind="stable"), np.argsort(kb, kind="stable")
    sa, sb = ka[ia], kb[ib]
    if not np.array_equal(sa, sb) or bool((sa[1:] == sa[:-1]).any()):
        return None
    return ga[metric].to_numpy()[ia], gb[metric].to_numpy()[ib]


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
