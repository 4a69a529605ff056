"""Seed variance apart from task variance, with CIs over tasks (``stats.clustered``; the
omnibus entries' ``var_task`` / ``var_seed``; docs/design/inference.md)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis import stats
from analysis.tables.inference import statistics


def _design(sd_task: float, sd_seed: float, tasks: int = 40, seeds: int = 4) -> pl.DataFrame:
    """Episode rows of two protocols on the same tasks, several seeds each, one step."""
    rng = np.random.default_rng(7)
    task_effect = rng.normal(0, sd_task, tasks)
    rows = []
    for arm, shift in (("a", 0.05), ("b", 0.0)):
        for t in range(tasks):
            for s in range(seeds):
                q = 0.6 + shift + task_effect[t] + rng.normal(0, sd_seed)
                rows.append((arm, f"t{t}", s, q))
    df = pl.DataFrame(rows, schema=["protocol", "task_hash", "seed", "quality"], orient="row")
    return df.with_columns(
        episode_id=pl.format("{}-{}-{}", "protocol", "task_hash", "seed"),
        step=pl.lit(0), shock=pl.lit(""), block=pl.lit("b"), backend=pl.lit("sim"),
        model=pl.lit("m"), n_agents=pl.lit(4), roles=pl.lit("free"), level=pl.lit("L3"),
        protocol_params=pl.lit("{}"), prompt_tokens=pl.lit(1), completion_tokens=pl.lit(1),
        n_participating=pl.lit(4), n_active=pl.lit(4), accuracy=pl.lit(3), n_parse_errors=pl.lit(0),
    )  # fmt: skip


def test_clustered_recovers_both_components_and_matches_icc_oneway() -> None:
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(200), 5)
    x = rng.normal(0, 0.2, 200)[units] + rng.normal(0, 0.1, units.size)
    fit = stats.clustered(x, units.tolist(), units.tolist())
    lo, hi = fit.var_between_ci
    assert lo < 0.04 < hi and abs(fit.var_between - 0.04) < 0.01
    lo, hi = fit.var_within_ci
    assert lo < 0.01 < hi and abs(fit.var_within - 0.01) < 0.002
    assert (fit.icc, fit.n_eff) == pytest.approx(stats.icc_oneway(x, units.tolist()), rel=1e-12)
    assert fit.icc_ci[0] < fit.icc < fit.icc_ci[1] and fit.n_eff_ci[0] < fit.n_eff < fit.n_eff_ci[1]


def test_omnibus_separates_seed_from_task_variance() -> None:
    tasky = statistics(_design(sd_task=0.15, sd_seed=0.02))["omnibus"][0]
    seedy = statistics(_design(sd_task=0.0, sd_seed=0.15))["omnibus"][0]
    assert tasky["var_task"] > 10 * tasky["var_seed"]
    assert seedy["var_seed"] > 10 * seedy["var_task"]
    for e in (tasky, seedy):
        for key in ("var_task", "var_seed"):
            lo, hi = e[f"{key}_ci"]
            assert lo <= e[key] <= hi


def test_one_seed_reports_no_seed_variance() -> None:
    entry = statistics(_design(0.1, 0.05, seeds=1))["omnibus"][0]
    assert "var_seed" not in entry and "var_task" not in entry
