"""Tests for analysis/stats.py: each statistic against scipy/numpy on fixed data, plus values
checked by hand (the paper's L1-L4 Cohen's d, a Holm example, small rank-test cases)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis import stats

RNG = np.random.default_rng(1)
A = RNG.normal(0.80, 0.05, 30)
B = RNG.normal(0.75, 0.07, 24)
C = RNG.normal(0.78, 0.04, 18)
PAIRED_B = A - RNG.normal(0.02, 0.03, 30)


def _standardised(n: int, seed: int) -> np.ndarray:
    """n values with sample mean exactly 0 and sample SD (ddof=1) exactly 1."""
    z = np.random.default_rng(seed).normal(size=n)
    return (z - z.mean()) / z.std(ddof=1)


def _statsmodels_holm(pvals: np.ndarray) -> np.ndarray:
    """statsmodels.stats.multitest.multipletests(method="holm")[1], transcribed by hand."""
    sortind = np.argsort(pvals)
    pvals_sorted = np.take(pvals, sortind)
    ntests = len(pvals_sorted)
    corrected = np.maximum.accumulate(pvals_sorted * np.arange(ntests, 0, -1))
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[sortind] = corrected
    return out


# --- Kruskal-Wallis -------------------------------------------------------------------------


def test_kruskal_matches_scipy() -> None:
    res = stats.kruskal({"a": list(A), "b": list(B), "c": list(C)})
    ref = sps.kruskal(A, B, C)
    assert res.test == "kruskal"
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert (res.n, res.k) == (72, 3)


def test_kruskal_hand_computed() -> None:
    # Ranks 1..6, rank sums 6 and 15: H = 12/(6*7) * (6^2/3 + 15^2/3) - 3*7 = 27/7.
    res = stats.kruskal({"lo": [1.0, 2.0, 3.0], "hi": [4.0, 5.0, 6.0]})
    assert res.statistic == pytest.approx(27 / 7, rel=1e-12)
    # chi-square with 1 df: sf(x) = erfc(sqrt(x / 2)).
    assert res.p_value == pytest.approx(math.erfc(math.sqrt(27 / 14)), rel=1e-9)


def test_kruskal_drops_empty_groups() -> None:
    res = stats.kruskal({"a": list(A), "empty": [], "b": list(B)})
    ref = sps.kruskal(A, B)
    assert (res.n, res.k) == (54, 2)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)


@pytest.mark.parametrize(
    ("groups", "n", "k"),
    [
        ({"only": [0.5, 0.7, 0.9]}, 3, 1),
        ({"only": [0.5, 0.7], "empty": []}, 2, 1),
        ({}, 0, 0),
        ({"a": [0.9, 0.9], "b": [0.9, 0.9, 0.9]}, 5, 2),
    ],
    ids=["single-group", "single-after-drop", "no-groups", "all-identical"],
)
def test_kruskal_undefined_is_nan(groups: dict[str, list[float]], n: int, k: int) -> None:
    res = stats.kruskal(groups)
    assert math.isnan(res.statistic) and math.isnan(res.p_value)
    assert (res.n, res.k) == (n, k)


# --- pairwise tests -------------------------------------------------------------------------


def test_mann_whitney_matches_scipy() -> None:
    res = stats.mann_whitney(A, B)
    ref = sps.mannwhitneyu(A, B, alternative="two-sided")
    assert (res.test, res.n_a, res.n_b) == ("mann_whitney", 30, 24)
    assert res.statistic == ref.statistic
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_mann_whitney_hand_computed() -> None:
    # Complete separation: U_a = 0; exact two-sided p = 2 / C(6, 3) = 0.1.
    res = stats.mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert res.statistic == 0.0
    assert res.p_value == pytest.approx(0.1, rel=1e-12)


def test_welch_t_matches_scipy_and_formula() -> None:
    res = stats.welch_t(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    va, vb = A.var(ddof=1) / A.size, B.var(ddof=1) / B.size
    t = (A.mean() - B.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (A.size - 1) + vb**2 / (B.size - 1))
    assert res.statistic == pytest.approx(t, rel=1e-12)
    assert res.p_value == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-9)


def test_welch_t_zero_variance_is_nan() -> None:
    res = stats.welch_t([0.7, 0.7, 0.7], [0.7, 0.7])
    assert math.isnan(res.statistic) and math.isnan(res.p_value)


def test_wilcoxon_paired_matches_scipy() -> None:
    res = stats.wilcoxon_paired(A, PAIRED_B)
    ref = sps.wilcoxon(A, PAIRED_B, alternative="two-sided")
    assert (res.test, res.n_a, res.n_b) == ("wilcoxon", 30, 30)
    assert res.statistic == ref.statistic
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)


def test_wilcoxon_paired_hand_computed() -> None:
    # Differences 1..5 all positive: W = min(T+, T-) = 0; exact two-sided p = 2 / 2^5.
    res = stats.wilcoxon_paired([2.0, 4.0, 6.0, 8.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert res.statistic == 0.0
    assert res.p_value == pytest.approx(2 / 32, rel=1e-12)


def test_wilcoxon_paired_length_mismatch_message() -> None:
    with pytest.raises(ValueError) as err:
        stats.wilcoxon_paired([0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4])
    assert str(err.value) == (
        "wilcoxon_paired needs samples of equal length (one value per pair); got len(a)=3, len(b)=4"
    )


def test_wilcoxon_paired_all_zero_differences_is_nan() -> None:
    res = stats.wilcoxon_paired([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
    assert math.isnan(res.statistic) and math.isnan(res.p_value)


# --- effect sizes ---------------------------------------------------------------------------


def test_cohens_d_paper_l1_vs_l4() -> None:
    # docs/design/paper.md section 9.2: L1 0.986 +- 0.011 vs L4 0.614 +- 0.020 gives d = 23.0
    # (average variance).
    l1 = 0.986 + 0.011 * _standardised(40, seed=2)
    l4 = 0.614 + 0.020 * _standardised(40, seed=3)
    assert l1.std(ddof=1) == pytest.approx(0.011, rel=1e-12)
    d = stats.cohens_d(l1, l4)
    assert round(d, 1) == 23.0
    assert d == pytest.approx(0.372 / math.sqrt((0.011**2 + 0.020**2) / 2), rel=1e-9)


def test_cohens_d_matches_numpy() -> None:
    ref = (A.mean() - B.mean()) / math.sqrt((A.var(ddof=1) + B.var(ddof=1)) / 2)
    assert stats.cohens_d(A, B) == pytest.approx(ref, rel=1e-12)
    assert stats.cohens_d(B, A) == pytest.approx(-ref, rel=1e-12)


def test_effect_sizes_hand_computed_unequal_n() -> None:
    # a: mean 2, var 1, n 3; b: mean 4, var 10, n 5.
    a, b = [1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0, 8.0]
    assert stats.cohens_d(a, b) == pytest.approx(-2 / math.sqrt(5.5), rel=1e-12)
    # pooled var = (2*1 + 4*10) / 6 = 7; J = 1 - 3/23 = 20/23.
    assert stats.hedges_g(a, b) == pytest.approx(-2 / math.sqrt(7) * 20 / 23, rel=1e-12)


def test_hedges_g_matches_numpy() -> None:
    n1, n2 = A.size, B.size
    pooled = math.sqrt(((n1 - 1) * A.var(ddof=1) + (n2 - 1) * B.var(ddof=1)) / (n1 + n2 - 2))
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    assert stats.hedges_g(A, B) == pytest.approx((A.mean() - B.mean()) / pooled * j, rel=1e-12)


def test_effect_sizes_zero_spread_are_nan() -> None:
    assert math.isnan(stats.cohens_d([0.5, 0.5], [0.5, 0.5]))
    assert math.isnan(stats.hedges_g([0.5, 0.5], [0.5, 0.5]))


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_ci_matches_scipy_bca() -> None:
    ref = sps.bootstrap(
        (A,),
        np.mean,
        n_resamples=2000,
        confidence_level=0.95,
        method="BCa",
        rng=np.random.default_rng(0),
    ).confidence_interval
    low, high = stats.bootstrap_ci(A)
    assert (low, high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    assert low < A.mean() < high


def test_bootstrap_ci_is_seeded_and_respects_arguments() -> None:
    assert stats.bootstrap_ci(A, seed=7) == stats.bootstrap_ci(list(A), seed=7)
    assert stats.bootstrap_ci(A, seed=7) != stats.bootstrap_ci(A, seed=8)
    wide, narrow = stats.bootstrap_ci(A), stats.bootstrap_ci(A, confidence=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]
    low, high = stats.bootstrap_ci(A, stat=np.median, n_resamples=500)
    assert low <= float(np.median(A)) <= high


def test_bootstrap_ci_falls_back_to_percentile_when_bca_undefined() -> None:
    # Scores at the ceiling: every resampled median is 1.0, so BCa's bias term is infinite.
    values = np.array([1.0] * 19 + [0.9])
    ref = sps.bootstrap(
        (values,), np.median, n_resamples=2000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    assert stats.bootstrap_ci(values, stat=np.median) == (ref.low, ref.high) == (1.0, 1.0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.7], (0.7, 0.7)), ([0.9, 0.9, 0.9], (0.9, 0.9))],
    ids=["one-value", "constant"],
)
def test_bootstrap_ci_degenerate(values: list[float], expected: tuple[float, float]) -> None:
    assert stats.bootstrap_ci(values) == pytest.approx(expected)


def test_bootstrap_ci_empty_is_nan() -> None:
    assert all(math.isnan(v) for v in stats.bootstrap_ci([]))


# --- Holm -----------------------------------------------------------------------------------


def test_holm_hand_computed() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> cummax.
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02], rel=1e-12)


def test_holm_matches_statsmodels_definition() -> None:
    p = np.random.default_rng(1).uniform(0, 0.3, 25)
    p[[3, 11]] = p[7]  # ties
    adjusted = stats.holm(list(p))
    assert adjusted == pytest.approx(list(_statsmodels_holm(p)), rel=1e-12)
    order = np.argsort(p)
    assert np.all(np.diff(np.asarray(adjusted)[order]) >= 0)
    assert max(adjusted) == 1.0


def test_holm_nan_passes_through_and_is_not_counted() -> None:
    adjusted = stats.holm([0.01, float("nan"), 0.04])
    assert math.isnan(adjusted[1])
    assert [adjusted[0], adjusted[2]] == pytest.approx([0.02, 0.04], rel=1e-12)


def test_holm_caps_at_one_and_handles_empty() -> None:
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]
    assert stats.holm([]) == []


# --- compare and serialisation --------------------------------------------------------------


def test_compare_unpaired() -> None:
    res = stats.compare(A, B)
    ref = sps.mannwhitneyu(A, B, alternative="two-sided")
    welch = sps.ttest_ind(A, B, equal_var=False)
    assert (res.n_a, res.n_b, res.test) == (30, 24, "mann_whitney")
    assert res.mean_a == pytest.approx(A.mean()) and res.mean_b == pytest.approx(B.mean())
    assert res.delta_pct == pytest.approx((A.mean() - B.mean()) / B.mean() * 100)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert (res.welch_t, res.welch_p) == pytest.approx((welch.statistic, welch.pvalue))
    assert res.cohens_d == pytest.approx(stats.cohens_d(A, B))
    assert res.hedges_g == pytest.approx(stats.hedges_g(A, B))
    assert res.ci_a == stats.bootstrap_ci(A) and res.ci_b == stats.bootstrap_ci(B)


def test_compare_paired_uses_wilcoxon() -> None:
    res = stats.compare(A, PAIRED_B, paired=True)
    ref = sps.wilcoxon(A, PAIRED_B)
    assert res.test == "wilcoxon"
    assert (res.statistic, res.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    with pytest.raises(ValueError, match="equal length"):
        stats.compare(A, B, paired=True)


def test_compare_identical_groups_does_not_raise() -> None:
    res = stats.compare([0.8, 0.8, 0.8], [0.8, 0.8, 0.8])
    assert res.delta_pct == 0.0 and res.p_value == 1.0
    assert math.isnan(res.welch_p) and math.isnan(res.cohens_d)
    assert res.ci_a == pytest.approx((0.8, 0.8))


def test_to_dict_is_strict_json_with_nan_as_none() -> None:
    res = stats.compare([0.1, 0.3, 0.2], [0.0, 0.0, 0.0])
    data = res.to_dict()
    assert math.isnan(res.delta_pct) and data["delta_pct"] is None
    assert data["ci_b"] == [0.0, 0.0]
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    omnibus = stats.kruskal({"only": [1.0]}).to_dict()
    assert omnibus == {"test": "kruskal", "statistic": None, "p_value": None, "n": 1, "k": 1}
    assert stats.mann_whitney(A, B).to_dict()["n_a"] == 30


def test_results_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.compare(A, B).p_value = 0.0  # type: ignore[misc]
