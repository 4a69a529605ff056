"""Inference at the task level (docs/design/inference.md): a design whose run-level test is
"significant" and whose task-level one is not, pairing of shocked multi-step episodes, the
omnibus choice, declared Holm families, the Resilience Index against the no-shock arm, and the
statistics helpers (d_z, ICC, effective n, paired bootstrap) checked by hand or against scipy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from scipy import stats as sps

from analysis import stats
from analysis import tables as tb
from analysis.tables.entries import mixed_table, omnibus_table, pairs_table
from sweep.results.schema import RUNS

BASE: dict[str, Any] = {
    "attempt": 1,
    "batch": "b",
    "sweep": "t",
    "block": "b1",
    "protocol": "sequential",
    "protocol_params": "{}",
    "model": "m1",
    "n_agents": 4,
    "roles": "free",
    "level": "L3",
    "seed": 0,
    "steps": 1,
    "step": 0,
    "shock": "",
    "status": "ok",
    "backend": "sim",
    "prompt_tokens": 10,
    "completion_tokens": 0,
    "n_active": 4,
    "n_participating": 4,
    "n_parse_errors": 0,
}


def frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    filled = [{**BASE, **r} for r in rows]
    for r in filled:
        r.setdefault("task_id", r["task_hash"])
    return pl.from_arrow(pa.Table.from_pylist(filled, schema=RUNS)).lazy()  # type: ignore[union-attr]


# Per-task effect of sequential over coordinator: mostly positive, three tasks negative, so the
# task-level Wilcoxon cannot reject while 30 seeds per task make the run-level test "significant".
TASK_DIFFS = [0.10, 0.10, 0.08, 0.12, -0.05, -0.06, -0.04, 0.02]
SEEDS = 30


def _task_effect_runs() -> pl.LazyFrame:
    rng = np.random.default_rng(7)
    task_level = rng.normal(0.6, 0.1, len(TASK_DIFFS))
    rows = []
    for t, (base, diff) in enumerate(zip(task_level, TASK_DIFFS, strict=True)):
        for seed in range(SEEDS):
            for proto, shift in (("sequential", diff), ("coordinator", 0.0)):
                q = float(base + shift + rng.normal(0, 0.01))
                rows.append(
                    {
                        "episode_id": f"{proto}-{t}-{seed}",
                        "protocol": proto,
                        "task_hash": f"t{t}",
                        "seed": seed,
                        "quality": q,
                    }
                )
    return frame(rows)


def test_run_level_significant_task_level_not_and_the_report_follows_the_task() -> None:
    st = tb.statistics(_task_effect_runs())
    (c,) = st["comparisons"]
    assert c["paired"] and (c["units_a"], c["units_b"]) == (8, 8)
    assert (c["n_a"], c["n_b"]) == (8 * SEEDS, 8 * SEEDS)
    assert c["run_level_p"] < 1e-6  # 240 rows as if independent
    assert c["p_value"] > 0.05  # 8 tasks, three of them the other way
    # the task-level test is scipy's Wilcoxon on the per-task means
    runs = _task_effect_runs().collect()
    means = runs.group_by("protocol", "task_hash").agg(pl.col("quality").mean()).sort("task_hash")
    seq = means.filter(pl.col("protocol") == "sequential")["quality"].to_numpy()
    coord = means.filter(pl.col("protocol") == "coordinator")["quality"].to_numpy()
    assert c["p_value"] == pytest.approx(sps.wilcoxon(seq, coord, method=c["method"]).pvalue)
    assert c["d_z"] == pytest.approx((seq - coord).mean() / (seq - coord).std(ddof=1))
    # Holm and the report's table use the task-level p, not the run-level one
    assert c["p_holm"] == pytest.approx(c["p_value"])
    shown = pairs_table(st["comparisons"]).row(0, named=True)
    assert shown["p"] == pytest.approx(c["p_value"]) and shown["p_holm"] > 0.05
    assert shown["p_run_level"] == pytest.approx(c["run_level_p"])
    # the runs of a task are strongly correlated: a high ICC and a small effective n
    assert c["icc"] > 0.9 and c["n_eff"] < 20
    lo, hi = c["ci"]
    assert lo < 0 < c["delta"] < hi  # the CI over tasks covers 0
    (om,) = st["omnibus"]
    assert om["test"] == "wilcoxon" and om["blocked"]  # two arms, every task in both
    (mm,) = st["mixed_models"]  # Q ~ protocol + (1 | task): the mean task difference
    (effect,) = mm["effects"]
    assert (mm["reference"], effect["level"]) == ("coordinator", "sequential")
    assert effect["estimate"] == pytest.approx(c["delta"])
    assert effect["ci"][0] < effect["estimate"] < effect["ci"][1]
    assert om["run_level_p"] < 1e-3


def _shocked_multistep(shuffle: bool = False) -> pl.LazyFrame:
    """Two protocols x {no shock, remove_hub at step 1} x 4 tasks x 3 steps; ``shock`` is set
    only on the shock step, as the runs table does."""
    rows = []
    for proto, lift in (("sequential", 0.1), ("coordinator", 0.0)):
        for kind in ("", "remove_hub"):
            for t in range(4):
                for step in range(3):
                    hit = kind and step == 1
                    rows.append(
                        {
                            "episode_id": f"{proto}-{kind}-{t}",
                            "protocol": proto,
                            "steps": 3,
                            "step": step,
                            "task_hash": f"t{t}-{step}",
                            "seed": (1 if shuffle and proto == "coordinator" else 0),
                            "shock": "remove_hub" if hit else "",
                            "quality": 0.5 + lift + 0.05 * t - (0.2 if hit else 0.0),
                        }
                    )
    return frame(rows)


@pytest.mark.parametrize("per_step", [False, True])
def test_shocked_multistep_comparison_stays_paired(per_step: bool) -> None:
    st = tb.statistics(_shocked_multistep(), per_step=per_step)
    (c,) = st["comparisons"]
    assert (c["a"], c["b"], c["paired"], c["test"]) == (
        "sequential",
        "coordinator",
        True,
        "wilcoxon",
    )
    assert (c["n_a"], c["n_b"]) == ((24, 24) if per_step else (8, 8))
    assert c["units_a"] == 4  # the task units, each seen with and without the shock
    assert c["delta"] == pytest.approx(0.1)
    assert st["rows"] == ("run steps" if per_step else "episodes (steps averaged)")
    unpaired = tb.statistics(_shocked_multistep(shuffle=True), per_step=per_step)
    assert unpaired["comparisons"][0]["test"] == "mann_whitney"


def test_friedman_for_blocked_designs_else_kruskal_on_task_means() -> None:
    rows = [
        {"episode_id": f"{p}{t}", "protocol": p, "task_hash": f"t{t}", "quality": q}
        for t in range(5)
        for p, q in (("sequential", 0.5 + 0.03 * t), ("shared", 0.55 + 0.01 * t**2),
                     ("broadcast", 0.52 + 0.02 * (t % 2)))
    ]  # fmt: skip
    (om,) = tb.statistics(frame(rows))["omnibus"]
    m = pl.DataFrame(rows).pivot(on="protocol", index="task_hash", values="quality")
    ref = sps.friedmanchisquare(*(m[c].to_numpy() for c in ("broadcast", "sequential", "shared")))
    assert (om["test"], om["k"], om["units"]) == ("friedman", 3, 5)
    assert om["means"]["shared"] == pytest.approx(m["shared"].mean())
    lo, hi = om["ci"]["shared"]
    assert lo < om["means"]["shared"] < hi
    assert om["statistic"] == pytest.approx(ref.statistic)
    assert om["p_value"] == pytest.approx(ref.pvalue)
    unblocked = [r for r in rows if not (r["protocol"] == "shared" and r["task_hash"] == "t0")]
    (om2,) = tb.statistics(frame(unblocked))["omnibus"]
    assert (om2["test"], om2["blocked"]) == ("kruskal", False)
    assert omnibus_table([om]).row(0, named=True)["test"] == "friedman"
    (mm,) = tb.statistics(frame(rows))["mixed_models"]
    assert mixed_table([mm]).row(0, named=True)["effects"].startswith("vs broadcast: ")


def test_holm_runs_within_declared_families() -> None:
    def q(b: str, p: str, t: int) -> float:
        return (
            0.5 + (0.1 if p == "sequential" else 0) + 0.01 * t + (0.02 * t**2 if b == "b2" else 0)
        )

    rows = [
        {"episode_id": f"{b}{p}{t}", "block": b, "protocol": p, "task_hash": f"t{t}",
         "quality": q(b, p, t)}
        for b in ("b1", "b2") for p in ("sequential", "coordinator") for t in range(8)
    ]  # fmt: skip
    own = tb.statistics(frame(rows))
    assert {c["family"] for c in own["comparisons"]} == {"protocol/b1", "protocol/b2"}
    assert all(c["p_holm"] == pytest.approx(c["p_value"]) for c in own["comparisons"])
    declared = tb.declared_families(
        {
            "sweep": {
                "blocks": [{"name": b, "families": {"protocol": "table_iii"}} for b in ("b1", "b2")]
            }
        }
    )
    joint = tb.statistics(frame(rows), families=declared)
    assert {c["family"] for c in joint["comparisons"]} == {"table_iii"}
    ps = [c["p_value"] for c in joint["comparisons"]]
    assert [c["p_holm"] for c in joint["comparisons"]] == pytest.approx(stats.holm(ps))
    assert joint["families"]["table_iii"]["tests"] == 2
    assert joint["families"]["table_iii"]["can_reject"]  # 8 pairs: 2/256 x 2 < 0.05


def test_resilience_against_the_no_shock_arm_with_a_ci() -> None:
    rows = []
    for t in range(6):
        for kind in ("", "remove_hub"):
            for step in range(3):
                drift = -0.02 * step  # the no-shock arm drifts too
                hit = 0.2 if kind and step == 1 else 0.0
                rows.append(
                    {"episode_id": f"{kind}{t}", "steps": 3, "step": step,
                     "task_hash": f"t{t}-{step}", "shock": kind if step == 1 else "",
                     "quality": 0.7 + 0.01 * t + drift - hit}
                )  # fmt: skip
    r = tb.resilience(frame(rows))
    none = r.filter(pl.col("shock") == "none").row(0, named=True)
    hub = r.filter(pl.col("shock") == "remove_hub").row(0, named=True)
    assert (none["RI"], none["RI_lo"], none["RI_hi"]) == (1.0, 1.0, 1.0)
    before = np.array([0.7 + 0.01 * t for t in range(6)])
    after_n = np.array([(0.7 + 0.01 * t - 0.02 + 0.7 + 0.01 * t - 0.04) / 2 for t in range(6)])
    after_s = after_n - 0.1
    expected = (after_s.mean() / before.mean()) / (after_n.mean() / before.mean())
    assert hub["RI"] == pytest.approx(expected)
    assert hub["RI_lo"] <= hub["RI"] <= hub["RI_hi"] < 1
    assert (hub["at"], hub["units"], hub["recovery_steps"]) == (1, 6, 1)


def test_dz_icc_and_min_attainable_p_by_hand() -> None:
    a, b = [0.5, 0.7, 0.6, 0.9], [0.4, 0.5, 0.6, 0.6]
    d = np.subtract(a, b)
    assert stats.cohens_dz(a, b) == pytest.approx(d.mean() / d.std(ddof=1))
    # two clusters of two: values 0,0 and 1,1 -> all variance between clusters
    icc, n_eff = stats.icc_oneway([0.0, 0.0, 1.0, 1.0], ["x", "x", "y", "y"])
    assert (icc, n_eff) == (pytest.approx(1.0), pytest.approx(2.0))
    icc0, n0 = stats.icc_oneway([0.0, 1.0, 0.0, 1.0], ["x", "x", "y", "y"])
    assert (icc0, n0) == (0.0, 4.0)
    assert stats.min_attainable_p("wilcoxon", 8, 8) == pytest.approx(2 / 256)
    assert stats.min_attainable_p("mann_whitney", 3, 3) == pytest.approx(2 / 20)
    assert math.isnan(stats.min_attainable_p("kruskal", 3, 3))


def test_paired_bootstrap_is_narrower_when_pairs_correlate() -> None:
    rng = np.random.default_rng(1)
    task = rng.normal(0, 0.2, 20)
    a, b = task + 0.05 + rng.normal(0, 0.01, 20), task + rng.normal(0, 0.01, 20)

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    ((plo, phi),) = stats.bootstrap_ci2(a, b, diff, paired=True)
    ((ulo, uhi),) = stats.bootstrap_ci2(a, b, diff, paired=False)
    assert 0 < plo < 0.05 < phi
    assert (phi - plo) < (uhi - ulo) / 5
