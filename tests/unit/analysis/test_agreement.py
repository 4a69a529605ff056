"""Agreement coefficients: hand-computed worked examples, published values (Shrout & Fleiss
1979), cross-checks against the libraries and independent formulas, and a task bootstrap whose
CIs contain the truth of a simulated case."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from analysis.agreement import (
    DIMENSIONS,
    agreement,
    exact,
    icc_2_1,
    limits_of_agreement,
    ordinal_alpha,
    task_bootstrap,
    weighted_kappa,
)


def test_weighted_kappa_hand_example() -> None:
    # A = 1 2 3 4, B = 1 2 4 4; weights (i-j)^2/9. Observed disagreement: (1/9)/4 = 1/36.
    # Marginals A: 1/4 each; B: 1/4, 1/4, 0, 1/2. Expected disagreement:
    # 1/4 * (19/36 + 9/36 + 7/36 + 13/36) = 1/3. kappa = 1 - (1/36)/(1/3) = 11/12.
    a, b = np.array([1, 2, 3, 4]), np.array([1, 2, 4, 4])
    assert weighted_kappa(a, b) == pytest.approx(11 / 12)
    assert exact(a, b) == 0.75


def _kappa_by_definition(a: np.ndarray, b: np.ndarray) -> float:
    """Quadratic-weighted kappa from its definition (independent of statsmodels)."""
    w = (np.subtract.outer(np.arange(4), np.arange(4)) ** 2).astype(float)
    obs = np.zeros((4, 4))
    np.add.at(obs, (a - 1, b - 1), 1)
    obs /= obs.sum()
    exp = np.outer(obs.sum(1), obs.sum(0))
    return float(1 - (w * obs).sum() / (w * exp).sum())


def test_weighted_kappa_matches_the_definition_on_a_larger_example() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(1, 5, 300)
    b = np.clip(a + rng.integers(-1, 2, 300), 1, 4)
    assert weighted_kappa(a, b) == pytest.approx(_kappa_by_definition(a, b))
    assert 0 < weighted_kappa(a, b) < 1
    assert math.isnan(weighted_kappa(np.full(5, 3), np.full(5, 3)))  # one category: 0/0


def test_ordinal_alpha_hand_example() -> None:
    # Units (1,1) (2,2) (3,4) (4,4); value counts n1=2 n2=2 n3=1 n4=3, n=8. Ordinal distance
    # d(c,k) = (sum_{g=c..k} n_g - (n_c+n_k)/2)^2: d12=4, d13=12.25, d14=30.25, d23=2.25,
    # d24=12.25, d34=4. Observed: o34 = o43 = 1 -> 2 * 4 = 8. Expected: 2 * (4*4 + 2*12.25
    # + 6*30.25 + 2*2.25 + 6*12.25 + 3*4) = 624. alpha = 1 - (n-1) * 8 / 624 = 1 - 56/624.
    assert ordinal_alpha(np.array([1, 2, 3, 4]), np.array([1, 2, 4, 4])) == pytest.approx(
        1 - 56 / 624
    )


def test_icc_2_1_reproduces_shrout_fleiss_table_2() -> None:
    # Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; ICC(2,1) = .29.
    x = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
        dtype=float,
    )
    assert round(icc_2_1(x), 2) == 0.29
    assert icc_2_1(np.column_stack([x[:, 0], x[:, 0]])) == pytest.approx(1.0)


def test_limits_of_agreement_hand_example() -> None:
    # d = b - a = 0.0625, 0.125, 0.1875: mean 0.125, sd 0.0625.
    m, lo, hi = limits_of_agreement(np.array([0.5, 0.5, 0.5]), np.array([0.5625, 0.625, 0.6875]))
    assert (m, lo, hi) == pytest.approx((0.125, 0.125 - 1.96 * 0.0625, 0.125 + 1.96 * 0.0625))


def _frame(rng: np.random.Generator, tasks: int, per_task: int, shift: float) -> pl.DataFrame:
    """A simulated judge pair: each task has a latent quality; rater A reads it with noise,
    rater B with more noise and a leniency ``shift`` (points), both rounded into 1..4."""
    n = tasks * per_task
    task = np.repeat(np.arange(tasks), per_task)
    latent = rng.normal(2.8, 0.6, tasks)[task][:, None] + rng.normal(0, 0.3, (n, 5))
    a = np.clip(np.round(latent + rng.normal(0, 0.3, (n, 5))), 1, 4).astype(int)
    b = np.clip(np.round(latent + shift + rng.normal(0, 0.6, (n, 5))), 1, 4).astype(int)
    cols: dict[str, object] = {"task_id": task.astype(str)}
    for i, d in enumerate(DIMENSIONS):
        cols[f"{d}_a"], cols[f"{d}_b"] = a[:, i], b[:, i]
    cols["quality_a"], cols["quality_b"] = a[:, :4].sum(1) / 16, b[:, :4].sum(1) / 16
    return pl.DataFrame(cols).with_columns(
        failed_a=False, failed_b=False, scored_a=True, scored_b=True, sim=False
    )


def test_agreement_matches_the_libraries_and_counts_what_it_leaves_out() -> None:
    f = _frame(np.random.default_rng(2), 30, 4, 0.3)
    bad = f.head(3).with_columns(
        failed_b=pl.Series([True, False, False]), scored_b=pl.Series([True, False, False])
    )
    unscored_a = f.head(1).with_columns(scored_a=False, accuracy_a=None)  # human sets: a sample
    ag = agreement(pl.concat([f, bad, unscored_a]), "a", "b", resamples=50)
    assert (ag.n, ag.tasks, ag.left_out_failed, ag.left_out_unscored) == (120, 30, 1, 3)
    a = np.concatenate([f[f"{d}_a"].to_numpy() for d in DIMENSIONS])
    b = np.concatenate([f[f"{d}_b"].to_numpy() for d in DIMENSIONS])
    pooled = krippendorff.alpha(reliability_data=[a, b], level_of_measurement="ordinal")
    assert ag.get("alpha (ordinal)", "all dimensions").value == pytest.approx(pooled)
    qa, qb = f["quality_a"].to_numpy(), f["quality_b"].to_numpy()
    assert ag.get("spearman", "Q").value == pytest.approx(spearmanr(qa, qb).statistic)
    ca, cb = f["coherence_a"].to_numpy(), f["coherence_b"].to_numpy()
    assert ag.get("weighted kappa", "coherence").value == pytest.approx(
        _kappa_by_definition(ca, cb)
    )
    for c in ag.coefficients:
        assert c.lo <= c.value <= c.hi or math.isnan(c.value), c


def test_task_bootstrap_cis_contain_the_simulated_truth() -> None:
    rng = np.random.default_rng(3)
    sample = _frame(rng, 60, 5, 0.4)
    population = _frame(rng, 20000, 5, 0.4)  # the truth: the same generator, 100,000 steps
    ag = agreement(sample, "a", "b", resamples=300)
    truth = agreement(population, "a", "b", resamples=0)
    for measure, on in [
        ("mean difference (B-A)", "Q"),
        ("ICC(2,1)", "Q"),
        ("spearman", "Q"),
        ("alpha (ordinal)", "all dimensions"),
        ("weighted kappa", "accuracy"),
    ]:
        c, t = ag.get(measure, on), truth.get(measure, on).value
        assert c.lo <= t <= c.hi, (measure, on, c, t)
        assert c.value < 1
    assert ag.get("mean difference (B-A)", "Q").lo > 0  # B is lenient, and the CI says so


def test_the_bootstrap_resamples_tasks_not_runs() -> None:
    # Two tasks of 50 identical run steps each, differing by 1: resampled tasks can only give
    # means 0, 0.5 or 1; resampling runs would give a narrow interval around 0.5.
    f = pl.DataFrame({"task_id": ["t1"] * 50 + ["t2"] * 50, "x": [0.0] * 50 + [1.0] * 50})
    ci = task_bootstrap(f, lambda g: {("mean", "x"): float(g["x"].mean())}, 400, 0)
    assert ci["mean", "x"] == (0.0, 1.0)
    one = task_bootstrap(f.head(50), lambda g: {("mean", "x"): float(g["x"].mean())}, 400, 0)
    assert all(math.isnan(v) for v in one["mean", "x"])  # one task: no interval


def test_the_same_rows_in_another_order_give_the_same_intervals() -> None:
    """Stored rows come back in part-file order, which differs between copies of one results
    directory; a seeded bootstrap must not depend on it."""
    rng = np.random.default_rng(5)
    f = pl.DataFrame({"task_id": [f"t{i % 12}" for i in range(60)], "x": rng.normal(size=60)})

    def stat(g: pl.DataFrame) -> dict[tuple[str, str], float]:
        return {("mean", "x"): float(g["x"].mean())}

    ci = task_bootstrap(f, stat, 200, 0)
    for s in range(3):
        again = task_bootstrap(f.sample(fraction=1.0, shuffle=True, seed=s), stat, 200, 0)
        assert again["mean", "x"] == pytest.approx(ci["mean", "x"], abs=1e-12)
