"""The paper's tables (docs/design/paper.md section 10) as pure ``LazyFrame -> LazyFrame``
queries over ``runs`` (``analysis.load(...).runs``), computed from our data.

The paper takes each table from one block of its design. Here every table compares a factor
within the strata of ``STRATA`` (the other factors held fixed, blocks never mixed) and keeps only
strata in which that factor takes two or more values; the statistics
(``analysis.tables.inference``) test the same strata, so a table row and its p-value describe the
same runs. Quality means leave out judge failures (null quality).
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from analysis.tables._common import DESIGN, balance_index, q_stats, varying, with_derived
from analysis.tables.units import CONTEXT


def _strata(factor: str) -> tuple[str, ...]:
    return (*CONTEXT, *(d for d in DESIGN if d != factor))


STRATA: dict[str, tuple[str, ...]] = {f: _strata(f) for f in DESIGN}
"""Per compared factor, what is held fixed: the block, the backend and every other design
factor (N and level included: pooling over them mixed effects of opposite sign)."""


def overview(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Per block: episodes, run steps, models, protocol arms, N, levels, backend and judge."""
    return (
        with_derived(runs)
        .group_by("block")
        .agg(
            pl.col("episode_id").n_unique().alias("episodes"),
            pl.len().alias("run_steps"),
            pl.col("model").unique().sort().str.join(", ").alias("models"),
            pl.col("arm").unique().sort().str.join(", ").alias("protocols"),
            pl.col("n_agents").unique().sort().cast(pl.String).str.join(", ").alias("N"),
            pl.col("level").unique().sort().str.join(", ").alias("levels"),
            pl.col("backend").unique().sort().str.join(", ").alias("backend"),
            pl.col("judge_model").unique().sort().str.join(", ").alias("judge"),
        )
        .sort("block")
    )


def protocol_comparison(runs: pl.LazyFrame, *, latency: str = "rounds") -> pl.LazyFrame:
    """Table III: per (block, model, roles, arm) where protocols vary: runs, Q, Q_sd, M, T (mean
    ``latency``), wall_s, tokens (C), R (share of risky runs) and B, the mean per-run Balance
    Index (``balance_index``, scaled within the block)."""
    rows = balance_index(varying(with_derived(runs), "arm", STRATA["arm"]), latency=latency)
    return (
        rows.group_by(*STRATA["arm"], "arm")
        .agg(
            *q_stats(),
            pl.col("mission_relevance").mean().alias("M"),
            pl.col(latency).mean().alias("T"),
            pl.col("wall_s").mean(),
            pl.col("tokens").mean(),
            pl.col("risk").mean().alias("R"),
            pl.col("balance").mean().alias("B"),
        )
        .sort(*STRATA["arm"], "Q", descending=[*(False for _ in STRATA["arm"]), True])
    )


TABLE_IV_LEVEL = "L3"
"""The paper's Table IV compares Sequential and Coordinator at L3 only."""


def seq_vs_coord(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Table IV, at level ``TABLE_IV_LEVEL``: per stratum of ``STRATA["arm"]`` running both,
    Q of Sequential and Coordinator, their run counts and
    delta_pct = (Q_seq - Q_coord) / Q_coord * 100."""
    seq, coord = pl.col("protocol") == "sequential", pl.col("protocol") == "coordinator"
    return (
        with_derived(runs)
        .filter((seq | coord) & (pl.col("level") == TABLE_IV_LEVEL))
        .group_by(STRATA["arm"])
        .agg(
            pl.col("quality").filter(seq).count().alias("n_seq"),
            pl.col("quality").filter(coord).count().alias("n_coord"),
            pl.col("quality").filter(seq).mean().alias("Q_seq"),
            pl.col("quality").filter(coord).mean().alias("Q_coord"),
        )
        .filter((pl.col("n_seq") > 0) & (pl.col("n_coord") > 0))
        .with_columns(delta_pct=(pl.col("Q_seq") - pl.col("Q_coord")) / pl.col("Q_coord") * 100)
        .sort(STRATA["arm"])
    )


def scaling(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Tables V-VI: per (block, arm, model, roles, N) where N varies: runs, Q, Q_sd, tokens (C),
    rounds, wall_s and participation."""
    return (
        varying(with_derived(runs), "n_agents", STRATA["n_agents"])
        .group_by(*STRATA["n_agents"], "n_agents")
        .agg(
            *q_stats(),
            pl.col("tokens").mean(),
            pl.col("rounds").mean(),
            pl.col("wall_s").mean(),
            pl.col("participation").mean(),
        )
        .sort(*STRATA["n_agents"], "n_agents")
    )


def model_comparison(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Table VII: per (block, arm, roles, model) where models vary: runs, Q, Q_sd, M, rounds, wall_s
    and tokens. (The paper's J_judge column is undefined and left out.)"""
    return (
        varying(with_derived(runs), "model", STRATA["model"])
        .group_by(*STRATA["model"], "model")
        .agg(
            *q_stats(),
            pl.col("mission_relevance").mean().alias("M"),
            pl.col("rounds").mean(),
            pl.col("wall_s").mean(),
            pl.col("tokens").mean(),
        )
        .sort(*STRATA["model"], "Q", descending=[*(False for _ in STRATA["model"]), True])
    )


def closed_vs_open(runs: pl.LazyFrame, hosted: Collection[str]) -> pl.LazyFrame:
    """Table VIII: per (block, arm, roles, model, level) in strata that run a hosted
    (closed) model from ``hosted`` beside another model: hosted, runs, Q, tokens per run and
    Q_per_1k_tok = Q / (tokens / 1000) (ratio of means, as the paper's 0.875 / 37)."""
    is_hosted = pl.col("model").is_in(list(hosted))
    within = STRATA["model"]
    return (
        with_derived(runs)
        .with_columns(hosted=is_hosted)
        .filter(pl.col("hosted").any().over(within) & (pl.col("model").n_unique().over(within) > 1))
        .group_by(*within, "model")
        .agg(pl.col("hosted").first(), *q_stats(), pl.col("tokens").mean())
        .with_columns(Q_per_1k_tok=pl.col("Q") / (pl.col("tokens") / 1000))
        .sort(*within, "Q", descending=[*(False for _ in within), True])
    )


def quality_by_level(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Table IX: per (block, level) where levels vary: runs, Q, Q_sd, HD (mean hierarchy depth)
    and the mean raw 1-4 completeness and actionability sub-scores."""
    return (
        varying(with_derived(runs), "level", STRATA["level"])
        .group_by(*STRATA["level"], "level")
        .agg(
            *q_stats(),
            pl.col("hierarchy_depth").mean().alias("HD"),
            pl.col("completeness").cast(pl.Float64).mean(),
            pl.col("actionability").cast(pl.Float64).mean(),
        )
        .sort(*STRATA["level"], "level")
    )


def free_vs_fixed(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Section 9.2 (capability threshold): per (block, arm, model, roles) where role mode
    varies: runs, Q, Q_sd and unique roles per run."""
    return (
        varying(with_derived(runs), "roles", STRATA["roles"])
        .group_by(*STRATA["roles"], "roles")
        .agg(*q_stats(), pl.col("n_unique_roles").mean().alias("unique_roles"))
        .sort(*STRATA["roles"], "roles")
    )
