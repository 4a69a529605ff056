"""Agreement between two score sets of the same run steps (``orgsweep agree``).

Per rubric dimension: quadratic-weighted Cohen's kappa (statsmodels) and exact agreement; per
dimension and pooled over the five dimensions: Krippendorff's alpha, ordinal (``krippendorff``).
On Q: Spearman's rho (scipy), ICC(2,1) (two-way random effects, absolute agreement, one rater;
the ANOVA formula of Shrout & Fleiss 1979, tested against their Table 2) and the mean
difference B - A with Bland-Altman 95% limits of agreement. Every coefficient gets a 95%
percentile CI from a bootstrap over TASKS: a task's run steps (protocols, models, N, seeds) are
resampled together, because they share the deliverable's difficulty and are not independent.
See docs/design/judge-reliability.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from sweep.errors import UserError
from sweep.results.schema import SCORE_KEY

DIMENSIONS = ("accuracy", "completeness", "coherence", "actionability", "mission_score")
LEVELS = np.arange(1, 5)  # the rubric's 1..4
Array = np.ndarray[Any, Any]


def weighted_kappa(a: Array, b: Array) -> float:
    """Cohen's kappa with quadratic (Fleiss-Cohen) weights over the categories 1..4."""
    from statsmodels.stats.inter_rater import cohens_kappa

    cells = (a.astype(int) - 1) * 4 + (b.astype(int) - 1)
    table = np.bincount(cells, minlength=16).reshape(4, 4).astype(float)
    expected = table.sum(1) @ (1 - _quadratic_distance()) @ table.sum(0) / table.sum() ** 2
    if np.isclose(expected, 1.0):  # one category only: kappa is 0/0
        return float("nan")
    return float(cohens_kappa(table, wt="quadratic", return_results=False))


def _quadratic_distance() -> Array:
    d = (LEVELS[:, None] - LEVELS[None, :]) ** 2
    return np.asarray(d / d.max(), dtype=float)


def exact(a: Array, b: Array) -> float:
    return float(np.mean(a == b))


def ordinal_alpha(a: Array, b: Array) -> float:
    """Krippendorff's alpha, ordinal metric, two raters; NaN when no value varies."""
    import krippendorff

    if np.unique(np.concatenate([a, b])).size < 2:
        return float("nan")
    # Per unit, how often each value 1..4 was given (the library's value_counts input): the
    # same alpha as reliability_data, three times faster on 100,000 units.
    counts = np.zeros((a.size, LEVELS.size))
    rows = np.arange(a.size)
    counts[rows, a.astype(int) - 1] += 1
    counts[rows, b.astype(int) - 1] += 1
    return float(
        krippendorff.alpha(value_counts=counts, value_domain=LEVELS, level_of_measurement="ordinal")
    )


def spearman(a: Array, b: Array) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def icc_2_1(x: Array) -> float:
    """ICC(2,1) of an n targets x k raters matrix (Shrout & Fleiss 1979, case 2, single rater):
    (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n), from the two-way ANOVA mean squares."""
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    denom = bms + (k - 1) * ems + k * (jms - ems) / n
    return float((bms - ems) / denom) if denom > 0 else float("nan")


def limits_of_agreement(a: Array, b: Array) -> tuple[float, float, float]:
    """(mean of b - a, lower and upper Bland-Altman 95% limits: mean -/+ 1.96 sd)."""
    d = b - a
    sd = float(np.std(d, ddof=1)) if d.size > 1 else float("nan")
    m = float(d.mean())
    return m, m - 1.96 * sd, m + 1.96 * sd


@dataclass(frozen=True)
class Coefficient:
    measure: str
    on: str  # a dimension, "all dimensions" or "Q"
    value: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Agreement:
    set_a: str
    set_b: str
    n: int  # run steps scored by both sets
    tasks: int
    left_out_failed: int  # a failed judgement in either set
    left_out_unscored: int  # a step one set has not scored
    coefficients: tuple[Coefficient, ...]
    sim: bool = False
    boot: int = 0

    def get(self, measure: str, on: str) -> Coefficient:
        return next(c for c in self.coefficients if c.measure == measure and c.on == on)

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_a": self.set_a,
            "set_b": self.set_b,
            "n": self.n,
            "tasks": self.tasks,
            "left_out": {"judge_failed": self.left_out_failed, "unscored": self.left_out_unscored},
            "bootstrap": {"over": "tasks", "resamples": self.boot, "ci": 0.95},
            "sim": self.sim,
            "coefficients": [_finite(c.__dict__) for c in self.coefficients],
        }


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}


def _statistics(f: pl.DataFrame) -> dict[tuple[str, str], float]:
    """Every coefficient of one (possibly resampled) frame of paired scores."""
    out: dict[tuple[str, str], float] = {}
    for d in DIMENSIONS:
        a, b = f[f"{d}_a"].to_numpy(), f[f"{d}_b"].to_numpy()
        out["weighted kappa", d] = weighted_kappa(a, b)
        out["exact agreement", d] = exact(a, b)
        out["alpha (ordinal)", d] = ordinal_alpha(a, b)
    pooled_a = np.concatenate([f[f"{d}_a"].to_numpy() for d in DIMENSIONS])
    pooled_b = np.concatenate([f[f"{d}_b"].to_numpy() for d in DIMENSIONS])
    out["alpha (ordinal)", "all dimensions"] = ordinal_alpha(pooled_a, pooled_b)
    qa, qb = f["quality_a"].to_numpy(), f["quality_b"].to_numpy()
    out["spearman", "Q"] = spearman(qa, qb)
    out["ICC(2,1)", "Q"] = icc_2_1(np.column_stack([qa, qb])) if f.height > 1 else float("nan")
    mean, lo, hi = limits_of_agreement(qa, qb)
    out["mean difference (B-A)", "Q"] = mean
    out["lower limit of agreement", "Q"] = lo
    out["upper limit of agreement", "Q"] = hi
    return out


def task_bootstrap(
    f: pl.DataFrame,
    statistic: Callable[[pl.DataFrame], dict[tuple[str, str], float]],
    resamples: int = 1000,
    seed: int = 0,
) -> dict[tuple[str, str], tuple[float, float]]:
    """95% percentile intervals of ``statistic`` over resamples of whole tasks (``task_id``).
    Resamples where a coefficient is undefined (e.g. one category only) are left out of its
    interval; with fewer than two tasks every interval is NaN."""
    # Groups in task order: the same rows in any order give the same resamples, so the same CIs.
    by_task = f.with_row_index("_i").group_by("task_id").agg("_i").sort("task_id")
    groups = [idx.to_numpy() for idx in by_task["_i"]]
    if len(groups) < 2 or resamples < 1:
        return {k: (float("nan"), float("nan")) for k in statistic(f)}
    rng = np.random.default_rng(seed)
    draws: dict[tuple[str, str], list[float]] = {}
    for _ in range(resamples):
        pick = rng.integers(0, len(groups), len(groups))
        rows = np.concatenate([groups[i] for i in pick])
        for k, x in statistic(f[rows]).items():
            draws.setdefault(k, []).append(x)
    out = {}
    for k, vals in draws.items():
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        out[k] = (
            (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
            if v.size
            else (float("nan"), float("nan"))
        )
    return out


def agreement(
    pairs: pl.DataFrame, set_a: str, set_b: str, *, resamples: int = 1000, seed: int = 0
) -> Agreement:
    """Coefficients of a paired frame (``paired``) with their task-bootstrap CIs."""
    both = pairs.filter(
        pl.col("scored_a") & pl.col("scored_b") & ~pl.col("failed_a") & ~pl.col("failed_b")
    )
    if both.is_empty():
        raise UserError(
            f"score sets {set_a!r} and {set_b!r} have no run step both scored without failure; "
            'see `orgsweep query RESULTS_DIR "SELECT score_set, count(*) FROM scores GROUP BY 1"`'
        )
    point = _statistics(both)
    cis = task_bootstrap(both, _statistics, resamples, seed)
    coefs = tuple(Coefficient(m, on, v, *cis[m, on]) for (m, on), v in point.items())
    unscored = pairs.filter(~pl.col("scored_b") | ~pl.col("scored_a")).height
    return Agreement(
        set_a,
        set_b,
        both.height,
        both["task_id"].n_unique(),
        pairs.height - both.height - unscored,
        unscored,
        coefs,
        bool(pairs["sim"].any()),
        resamples,
    )


def paired(runs_a: pl.LazyFrame, runs_b: pl.LazyFrame) -> pl.DataFrame:
    """Per run step: both sets' dimensions and Q, whether each failed or scored at all.
    ``runs_a``/``runs_b`` are ``analysis.load(dir, score_set=...).runs`` frames."""
    key = list(SCORE_KEY)
    cols = [*DIMENSIONS, "quality", "judge_failed"]

    def side(runs: pl.LazyFrame, s: str) -> pl.LazyFrame:
        return runs.select(
            *key,
            *(pl.col(c).alias(f"{c}_{s}") for c in cols),
            pl.col("quality").is_not_null().alias(f"scored_{s}"),
        )

    base = runs_a.select(*key, "task_id", (pl.col("backend") == "sim").alias("sim"))
    f = base.join(side(runs_a, "a"), on=key).join(side(runs_b, "b"), on=key, how="left")
    return (
        f.with_columns(
            pl.col("scored_b").fill_null(False),
            (pl.col("judge_failed_a").fill_null(False) & pl.col("scored_a")).alias("failed_a"),
            (pl.col("judge_failed_b").fill_null(False) & pl.col("scored_b").fill_null(False)).alias(
                "failed_b"
            ),
        )
        .with_columns(
            # A failed judgement has no scores; count it as failed, not as unscored.
            (pl.col("scored_a") | pl.col("failed_a")).alias("scored_a"),
            (pl.col("scored_b") | pl.col("failed_b")).alias("scored_b"),
        )
        .sort(key)
        .collect()
    )


def agree(
    results_dir: str, set_a: str, set_b: str, *, resamples: int = 1000, seed: int = 0
) -> Agreement:
    """``orgsweep agree``: set names as ``rescore`` made them, ``default`` = the launch's."""
    from sweep.results.reader import load

    if set_a == set_b:
        raise UserError(f"agree needs two different score sets (got {set_a!r} twice)")
    a = load(results_dir, score_set=set_a).runs
    b = load(results_dir, score_set=set_b).runs
    return agreement(paired(a, b), set_a, set_b, resamples=resamples, seed=seed)


def table_rows(ag: Agreement) -> list[list[str]]:
    """[measure, on, value, 95% CI] rows for a Markdown or console table."""

    def num(x: float) -> str:
        return "n/a" if not np.isfinite(x) else f"{x:.3f}"

    return [[c.measure, c.on, num(c.value), f"[{num(c.lo)}, {num(c.hi)}]"] for c in ag.coefficients]


def headline(ag: Agreement) -> str:
    """One line: alpha over the dimensions, ICC and mean difference on Q, with CIs."""
    al, icc, md = (
        ag.get("alpha (ordinal)", "all dimensions"),
        ag.get("ICC(2,1)", "Q"),
        ag.get("mean difference (B-A)", "Q"),
    )

    def f(c: Coefficient) -> str:
        return f"{c.value:.3f} [{c.lo:.3f}, {c.hi:.3f}]"

    sim = " (sim backend: synthetic, not evidence about LLMs)" if ag.sim else ""
    return (
        f"agreement {ag.set_b} vs {ag.set_a} over {ag.n} run steps / {ag.tasks} tasks: "
        f"alpha {f(al)}, ICC(2,1) on Q {f(icc)}, mean dQ {f(md)}{sim}"
    )
