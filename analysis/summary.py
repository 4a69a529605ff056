"""The summary table ``orgsweep launch`` prints at the end: quality and roles by cell."""

from __future__ import annotations

import polars as pl

LEGEND = (
    "runs = run steps (status ok); Q = mean quality, (accuracy + completeness + coherence + "
    "actionability) / 16 in [0.25, 1]; M = mean mission relevance (mission score / 4); part = "
    "mean share of active agents that participated; roles = mean distinct roles per run step; "
    "depth = mean hierarchy depth (agents on the longest builds_on chain); calls = mean agent "
    "LLM calls per run step. More in `orgsweep report RESULTS_DIR` (Definitions)."
)


def cell_means(runs: pl.LazyFrame) -> pl.DataFrame:
    """Per (model, protocol): episodes, mean Q and M, participation, unique roles, calls."""
    return (
        runs.group_by("model", "protocol")
        .agg(
            pl.len().alias("runs"),
            pl.col("quality").mean().alias("Q"),
            pl.col("mission_relevance").mean().alias("M"),
            (pl.col("n_participating") / pl.col("n_active")).mean().alias("part"),
            pl.col("n_unique_roles").mean().alias("roles"),
            pl.col("hierarchy_depth").mean().alias("depth"),
            pl.col("llm_calls").mean().alias("calls"),
        )
        .sort("model", "protocol")
        .collect()
    )
