"""Statistics for the research report: tests, effect sizes, intervals and p-value correction.

Pure functions over sequences or numpy arrays of quality scores. Results are frozen dataclasses
whose `to_dict()` is JSON-serialisable (non-finite floats become None).

Undefined results (too few groups or values, zero variance, all-zero paired differences) are
reported as nan rather than raised, so one degenerate cell does not stop a whole report. The
only error raised on purpose is for paired samples of different lengths, which is a caller bug.

The paper (docs/design/paper.md section 9) names Kruskal-Wallis and Cohen's d but not its
pairwise test; `compare` uses rank tests as primary and Welch's t as secondary.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

Values = Sequence[float] | npt.NDArray[np.floating[Any]]
NAN = float("nan")


class _Result:
    """A frozen result dataclass: ``to_dict`` is JSON-serialisable (nan becomes None)."""

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclasses.dataclass(frozen=True)
class Omnibus(_Result):
    """Result of a k-group test; statistic and p_value are nan when undefined."""

    test: str
    statistic: float
    p_value: float
    n: int
    k: int


@dataclasses.dataclass(frozen=True)
class PairTest(_Result):
    """Result of a two-sample test; statistic and p_value are nan when undefined."""

    test: str
    statistic: float
    p_value: float
    n_a: int
    n_b: int


@dataclasses.dataclass(frozen=True)
class Comparison(_Result):
    """Everything the report states about group a versus group b (see `compare`)."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    delta_pct: float
    test: str
    statistic: float
    p_value: float
    welch_t: float
    welch_p: float
    cohens_d: float
    hedges_g: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]


def kruskal(groups: Mapping[str, Sequence[float]]) -> Omnibus:
    """Kruskal-Wallis H test across groups (scipy.stats.kruskal).

    Empty groups are dropped. With fewer than 2 remaining groups, or when every value is
    identical (H is 0/0), statistic and p_value are nan instead of an exception.
    """
    kept = [_array(v) for v in groups.values() if len(v) >= 1]
    n, k = sum(g.size for g in kept), len(kept)
    if k < 2 or np.ptp(np.concatenate(kept)) == 0:
        return Omnibus("kruskal", NAN, NAN, n, k)
    res = stats.kruskal(*kept)
    return Omnibus("kruskal", float(res.statistic), float(res.pvalue), n, k)


def mann_whitney(a: Values, b: Values) -> PairTest:
    """Two-sided Mann-Whitney U test; the statistic is U for sample a."""
    x, y = _array(a), _array(b)
    res = stats.mannwhitneyu(x, y, alternative="two-sided")
    return PairTest("mann_whitney", float(res.statistic), float(res.pvalue), x.size, y.size)


def welch_t(a: Values, b: Values) -> PairTest:
    """Welch's unequal-variance t test (two-sided); nan when both samples have zero variance."""
    x, y = _array(a), _array(b)
    if x.size < 2 or y.size < 2 or _var(x) + _var(y) == 0:
        return PairTest("welch_t", NAN, NAN, x.size, y.size)
    res = stats.ttest_ind(x, y, equal_var=False)
    return PairTest("welch_t", float(res.statistic), float(res.pvalue), x.size, y.size)


def wilcoxon_paired(a: Values, b: Values) -> PairTest:
    """Two-sided Wilcoxon signed-rank test on pairs (a[i], b[i]); zero differences are dropped.

    Raises ValueError when the samples differ in length. When every difference is zero the test
    is undefined and statistic and p_value are nan.
    """
    x, y = _array(a), _array(b)
    if x.size != y.size:
        raise ValueError(
            f"wilcoxon_paired needs samples of equal length (one value per pair); "
            f"got len(a)={x.size}, len(b)={y.size}"
        )
    if not np.any(x - y):
        return PairTest("wilcoxon", NAN, NAN, x.size, y.size)
    res = stats.wilcoxon(x, y, alternative="two-sided")
    return PairTest("wilcoxon", float(res.statistic), float(res.pvalue), x.size, y.size)


def cohens_d(a: Values, b: Values) -> float:
    """Cohen's d as the paper computes it: (mean_a - mean_b) / sqrt((s_a^2 + s_b^2) / 2).

    s are sample SDs (ddof=1). This average-variance form reproduces the paper's L1-L4 d = 23.0;
    it ignores group sizes, unlike the pooled SD in `hedges_g`. nan if the denominator is 0.
    """
    x, y = _array(a), _array(b)
    scale = math.sqrt((_var(x) + _var(y)) / 2)
    return _ratio(_mean(x) - _mean(y), scale)


def hedges_g(a: Values, b: Values) -> float:
    """Hedges' g: (mean_a - mean_b) / s_pooled * J, the small-sample bias-corrected d.

    s_pooled = sqrt(((n1-1) s1^2 + (n2-1) s2^2) / (n1+n2-2)) and J = 1 - 3 / (4 (n1+n2) - 9)
    (Hedges' approximation of the exact gamma-function correction). nan if s_pooled is 0 or
    either sample is empty.
    """
    x, y = _array(a), _array(b)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0 or n1 + n2 < 3:
        return NAN
    # Sums of squares equal (n-1) s^2 and stay defined for a single-value group.
    pooled = math.sqrt((_ss(x) + _ss(y)) / (n1 + n2 - 2))
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    return _ratio(_mean(x) - _mean(y), pooled) * j


def bootstrap_ci(
    values: Values,
    stat: Callable[..., Any] = np.mean,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap confidence interval of `stat(values)` (scipy.stats.bootstrap).

    Uses BCa, which corrects the bias and skew of means near the 0/1 bounds of quality scores;
    when BCa is undefined (e.g. the median of scores piled at 1.0) it falls back to the percentile
    interval. Deterministic for a given seed. With fewer than 2 values or a constant sample the
    interval collapses to (x, x) with x = stat(values); an empty sample gives (nan, nan).
    """
    arr = _array(values)
    if arr.size == 0:
        return (NAN, NAN)
    if arr.size < 2 or np.ptp(arr) == 0:
        x = float(stat(arr))
        return (x, x)
    low, high = _bootstrap((arr,), stat, n_resamples, confidence, seed, "BCa")[0]
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = _bootstrap((arr,), stat, n_resamples, confidence, seed, "percentile")[0]
    return (low, high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in input order.

    Sorted ascending, the i-th (0-based) of m p-values becomes max over j <= i of (m - j) p_(j),
    capped at 1. nan entries are returned unchanged and do not count towards m. Implemented here
    because scipy.stats.false_discovery_control offers only Benjamini-Hochberg/Yekutieli.
    """
    p = np.asarray(p_values, dtype=float)
    out = p.copy()
    idx = np.flatnonzero(~np.isnan(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    scaled = p[order] * np.arange(m, 0, -1)
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return [float(v) for v in out]


def compare(a: Values, b: Values, *, paired: bool = False) -> Comparison:
    """Compare group a with group b.

    Primary test: Mann-Whitney U (two-sided) when unpaired, Wilcoxon signed-rank when paired
    (a[i] and b[i] are the same task; lengths must match). Secondary: Welch's t in both cases.
    delta_pct = (mean_a - mean_b) / mean_b * 100, nan if mean_b is 0. ci_a and ci_b are
    bootstrap intervals of the means (`bootstrap_ci` defaults).
    """
    x, y = _array(a), _array(b)
    primary = wilcoxon_paired(x, y) if paired else mann_whitney(x, y)
    welch = welch_t(x, y)
    mean_a, mean_b = _mean(x), _mean(y)
    return Comparison(
        n_a=x.size,
        n_b=y.size,
        mean_a=mean_a,
        mean_b=mean_b,
        delta_pct=_ratio(mean_a - mean_b, mean_b) * 100,
        test=primary.test,
        statistic=primary.statistic,
        p_value=primary.p_value,
        welch_t=welch.statistic,
        welch_p=welch.p_value,
        cohens_d=cohens_d(x, y),
        hedges_g=hedges_g(x, y),
        ci_a=bootstrap_ci(x),
        ci_b=bootstrap_ci(y),
    )


def _bootstrap(
    samples: Sequence[npt.NDArray[np.float64]],
    stat: Callable[..., Any],
    n_resamples: int,
    confidence: float,
    seed: int,
    method: str,
    *,
    paired: bool = False,
    vectorized: bool | None = None,
) -> list[tuple[float, float]]:
    """``scipy.stats.bootstrap`` of ``stat(*samples)``: one (low, high) per value it returns."""
    # A degenerate BCa returns nan with a warning; the caller falls back, so silence it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.bootstrap(
            tuple(samples),
            stat,
            paired=paired,
            vectorized=vectorized,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method=method,
            rng=np.random.default_rng(seed),
        )
    lo, hi = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    return [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]


def _array(values: Values) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64).ravel()


def _ss(x: npt.NDArray[np.float64]) -> float:
    # Exactly 0 for constant data: x - mean(x) can be ~1e-17 there, and a tiny spread would turn
    # "undefined" into huge effect sizes or scipy precision-loss warnings.
    return 0.0 if np.ptp(x) == 0 else float(np.sum((x - x.mean()) ** 2))


def _var(x: npt.NDArray[np.float64]) -> float:
    return _ss(x) / (x.size - 1) if x.size >= 2 else NAN


def _mean(x: npt.NDArray[np.float64]) -> float:
    return float(x.mean()) if x.size else NAN


def _ratio(num: float, den: float) -> float:
    # 0 or nan denominators mean "undefined" here, reported as nan without a numpy warning.
    return num / den if den != 0 and not math.isnan(den) else NAN


def _to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def cohens_dz(a: Values, b: Values) -> float:
    """Cohen's d_z of paired samples: mean(a - b) / sd(a - b) (ddof=1); nan if undefined.

    The effect size that matches a paired test; d_av (`cohens_d`) divides by the groups' SD and
    ignores the pairing, which overstates or understates the effect as the pairs correlate.
    """
    x, y = _array(a), _array(b)
    if x.size != y.size:
        raise ValueError(f"cohens_dz needs paired samples; got {x.size} and {y.size} values")
    d = x - y
    return _ratio(_mean(d), math.sqrt(_var(d))) if d.size >= 2 else NAN


def friedman(blocks: npt.NDArray[np.float64]) -> Omnibus:
    """Friedman test on a (units x groups) matrix, every unit observed in every group.

    scipy needs three or more groups; with fewer, or constant data, the result is nan.
    """
    m = np.asarray(blocks, dtype=np.float64)
    n, k = m.shape if m.ndim == 2 else (0, 0)
    if k < 3 or n < 2 or np.ptp(m) == 0:
        return Omnibus("friedman", NAN, NAN, n, k)
    res = stats.friedmanchisquare(*m.T)
    return Omnibus("friedman", float(res.statistic), float(res.pvalue), n, k)


def bootstrap_ci2(
    a: Values,
    b: Values,
    stat: Callable[..., Any],
    *,
    paired: bool,
    n_resamples: int = 999,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[tuple[float, float]]:
    """Bootstrap intervals of a two-sample statistic ``stat(a, b, axis=-1)`` that returns one or
    more values (an array with the values first); paired resampling resamples (a[i], b[i])
    together, unpaired resamples each sample on its own.

    BCa with a percentile fallback per value, as `bootstrap_ci`. Too few values (under 2 in a
    sample) give (x, x) at the point estimate, or (nan, nan) where that is undefined.
    """
    x, y = _array(a), _array(b)
    point = np.atleast_1d(np.asarray(stat(x, y, axis=-1), dtype=np.float64))
    if min(x.size, y.size) < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return [(float(p), float(p)) for p in point]
    args = ((x, y), stat, n_resamples, confidence, seed)
    out = _bootstrap(*args, "BCa", paired=paired, vectorized=True)
    if not all(math.isfinite(lo) and math.isfinite(hi) for lo, hi in out):
        alt = _bootstrap(*args, "percentile", paired=paired, vectorized=True)
        out = [o if all(map(math.isfinite, o)) else p for o, p in zip(out, alt, strict=True)]
    return [o if all(map(math.isfinite, o)) else (NAN, NAN) for o in out]


def icc_oneway(values: Values, clusters: Sequence[Any]) -> tuple[float, float]:
    """(ICC(1), effective n) of values grouped in clusters, by one-way ANOVA.

    ICC = (MSB - MSW) / (MSB + (m0 - 1) MSW) with m0 the ANOVA's adjusted mean cluster size,
    clipped at 0; effective n = n / (1 + (m - 1) ICC), the Kish design effect with m the mean
    cluster size. nan ICC (and n_eff = n) when there are fewer than 2 clusters or no
    within-cluster replication.
    """
    sums = _cluster_sums(_array(values), list(clusters), None)
    icc, n_eff, _, _ = _oneway(*(np.sum(c) for c in sums))
    return float(icc), float(n_eff)


@dataclasses.dataclass(frozen=True)
class Clustered:
    """One-way ANOVA of values in clusters nested in units (``clustered``): ICC, effective n,
    the between-cluster and within-cluster variance components, each with a 95% CI."""

    icc: float
    n_eff: float
    var_between: float
    var_within: float
    icc_ci: tuple[float, float]
    n_eff_ci: tuple[float, float]
    var_between_ci: tuple[float, float]
    var_within_ci: tuple[float, float]


def clustered(
    values: Values, clusters: Sequence[Any], units: Sequence[Any], n_resamples: int = 999
) -> Clustered:
    """``icc_oneway`` and the variance components var_between = max(0, (MSB - MSW) / m0) and
    var_within = MSW, with percentile bootstrap CIs resampling ``units`` (each cluster lies in
    one unit; a resampled unit brings all its clusters, duplicates count as new clusters).

    The ANOVA needs only per-cluster sizes, sums and sums of squares, which add up over a
    unit's clusters, so a resample is one matrix of per-unit sums (``bootstrap_units``). nan
    CIs with fewer than 2 units or where the statistic is undefined."""
    sums = _cluster_sums(_array(values), list(clusters), list(units))
    point = [float(v) for v in _oneway(*(np.sum(c) for c in sums))]
    cis = bootstrap_units_many(sums, _oneway_stack, 4, n_resamples)
    return Clustered(*point, *cis)  # type: ignore[arg-type]


def _cluster_sums(
    x: npt.NDArray[np.float64], clusters: list[Any], units: list[Any] | None
) -> tuple[npt.NDArray[np.float64], ...]:
    """Per unit (one unit when ``units`` is None): clusters, rows, sum, sum of squares,
    sum over clusters of (cluster sum)^2 / size, and sum of squared cluster sizes."""
    _, inv = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    size = np.bincount(inv).astype(np.float64)
    total = np.bincount(inv, weights=x)
    sq = np.bincount(inv, weights=x * x)
    owner = np.zeros(size.size, dtype=np.intp)
    if units is not None:
        owner[inv] = np.unique(np.asarray([str(v) for v in units]), return_inverse=True)[1]
    per = [np.ones(size.size), size, total, sq, total**2 / size, size**2]
    return tuple(np.bincount(owner, weights=p).astype(np.float64) for p in per)


def _oneway(
    g: Any, n: Any, s: Any, q: Any, b: Any, k: Any
) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    """(ICC, n_eff, var_between, var_within) from the totals of ``_cluster_sums`` (arrays
    of resamples or scalars)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        g, n = np.asarray(g, dtype=np.float64), np.asarray(n, dtype=np.float64)
        ok = (g >= 2) & (n > g)
        msb = (b - s**2 / n) / (g - 1)
        msw = np.maximum(q - b, 0.0) / (n - g)
        m0 = (n - k / n) / (g - 1)
        den = msb + (m0 - 1) * msw
        icc = np.where(ok & (den > 0), np.maximum(0.0, (msb - msw) / den), np.nan)
        n_eff = np.where(np.isfinite(icc), n / (1 + (n / g - 1) * icc), n)
        var_b = np.where(ok, np.maximum(0.0, (msb - msw) / m0), np.nan)
        var_w = np.where(ok, msw, np.nan)
    return icc, n_eff, var_b, var_w


def _oneway_stack(*sums: Any, axis: int = -1) -> Any:
    return np.stack(_oneway(*(np.sum(c, axis=axis) for c in sums)))


def min_attainable_p(test: str, n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value the exact rank test can give at these sizes, without ties:
    Wilcoxon signed-rank 2 / 2^n, Mann-Whitney U 2 / C(n_a + n_b, n_a). A family whose alpha is
    below it can never reject; the report says so. nan for other tests."""
    if test == "wilcoxon" and n_a >= 1:
        return min(1.0, math.ldexp(2.0, -n_a))
    if test == "mann_whitney" and n_a >= 1 and n_b >= 1:
        return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))
    return NAN


def bootstrap_units(
    samples: Sequence[Values],
    stat: Callable[..., Any],
    n_resamples: int = 999,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat(*samples, axis=-1)`` resampling units: ``samples[k][i]``
    are unit i's values (per-unit sums of a ratio, say), resampled together (scipy's paired
    bootstrap). (nan, nan) with fewer than 2 units or an undefined statistic."""
    arrays = tuple(_array(s) for s in samples)
    if arrays[0].size < 2:
        return (NAN, NAN)
    low, high = _bootstrap(
        arrays, stat, n_resamples, confidence, seed, "percentile", paired=True, vectorized=True
    )[0]
    return (low, high) if math.isfinite(low) and math.isfinite(high) else (NAN, NAN)


def bootstrap_units_many(
    samples: Sequence[Values], stat: Callable[..., Any], k: int, n_resamples: int = 999
) -> list[tuple[float, float]]:
    """`bootstrap_units` of a statistic with ``k`` values (``stat`` returns them stacked
    first): percentile CIs, (nan, nan) for a value that is undefined or with fewer than 2
    units."""
    arrays = [_array(s) for s in samples]
    if arrays[0].size < 2:
        return [(NAN, NAN)] * k
    cis = _bootstrap(arrays, stat, n_resamples, 0.95, 0, "percentile", paired=True, vectorized=True)
    return [c if all(map(math.isfinite, c)) else (NAN, NAN) for c in cis]


def bootstrap_mean_cis(
    columns: Sequence[Values], n_resamples: int = 999, confidence: float = 0.95, seed: int = 0
) -> list[tuple[float, float]]:
    """`bootstrap_ci` of the mean of several columns of the same units at once (one resampling
    of the units for all, BCa with a percentile fallback per column): each column's interval is
    the one `bootstrap_ci` would give it alone up to resampling noise."""
    arrays = [_array(c) for c in columns]
    if not arrays:
        return []
    if arrays[0].size < 2:
        return [bootstrap_ci(a) for a in arrays]

    def means(*xs: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
        return np.stack([x.mean(axis=axis) for x in xs])

    out: list[tuple[float, float]] = []
    args = (arrays, means, n_resamples, confidence, seed)
    ci = {m: _bootstrap(*args, m, paired=True, vectorized=True) for m in ("BCa",)}
    fallback: list[tuple[float, float]] | None = None
    for i, a in enumerate(arrays):
        if np.ptp(a) == 0:
            out.append((float(a[0]), float(a[0])))
            continue
        lo, hi = ci["BCa"][i]
        if not (math.isfinite(lo) and math.isfinite(hi)):
            if fallback is None:
                fallback = _bootstrap(*args, "percentile", paired=True, vectorized=True)
            lo, hi = fallback[i]
        out.append((lo, hi))
    return out
