"""Units of analysis: episode-level keys and the task unit (docs/design/inference.md).

- ``shock_kind`` / ``shock_step``: the episode's shock and the step it hits ("" and -1 without
  one). Runs carry ``shock`` only on the shock step, so steps before and after it looked like an
  unshocked episode's and pairing silently broke; these keys are the same on every step.
- ``unit``: the task unit, the episode's task hashes in step order. Single-step episodes: the
  task. Every cell of a sweep's grid sees the same units, so a unit is what pairs arms and what
  the bootstrap resamples; runs sharing a unit are not independent.
- ``per_episode``: one row per episode, the metric averaged over its steps: the default unit of
  a test (a multi-step episode is one organisation, its steps are repeated measures).
"""

from __future__ import annotations

import polars as pl

from analysis.tables._common import DESIGN, with_derived

EPISODE_KEYS = ("unit", "seed", "shock_kind", "shock_step")
"""What pairs an episode of one arm with one of another (with the design factors held fixed)."""
CONTEXT = ("block", "backend")
"""Never pooled over: blocks are separate experiments, backends separate worlds (sim is not
evidence)."""


def with_episode_keys(runs: pl.LazyFrame) -> pl.LazyFrame:
    """``runs`` plus ``shock_kind``, ``shock_step`` and ``unit`` (module docstring)."""
    if "unit" in runs.collect_schema().names():
        return runs
    shocked = pl.col("shock") != ""
    keys = runs.group_by("episode_id").agg(
        shock_kind=pl.col("shock").filter(shocked).first().fill_null(""),
        shock_step=pl.col("step").filter(shocked).min().fill_null(-1),
        unit=pl.col("task_hash").sort_by("step").str.join("+"),
    )
    return runs.join(keys, on="episode_id", how="left", maintain_order="left")


def per_episode(runs: pl.LazyFrame, metric: str = "quality") -> pl.LazyFrame:
    """One row per episode: its design, context and episode keys, ``steps`` (scored steps) and
    ``metric`` averaged over its scored steps (judge failures left out)."""
    by = [*CONTEXT, *DESIGN, "episode_id", *EPISODE_KEYS]
    return (
        with_episode_keys(with_derived(runs))
        .filter(pl.col(metric).is_not_null())
        .group_by(by)
        .agg(pl.col(metric).mean(), pl.len().alias("steps"))
        .sort(by)
    )


def per_step(runs: pl.LazyFrame, metric: str = "quality") -> pl.LazyFrame:
    """One row per scored run step, with the episode keys (``step`` joins the pairing key)."""
    by = [*CONTEXT, *DESIGN, "episode_id", *EPISODE_KEYS, "step"]
    return (
        with_episode_keys(with_derived(runs))
        .filter(pl.col(metric).is_not_null())
        .select(*by, metric)
        .sort(by)
    )
