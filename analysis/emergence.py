"""Emergent organisation: roles, role stability, abstention and participation, and efficiency,
as pure ``LazyFrame -> LazyFrame`` queries (docs/design/paper.md section 7.3,
docs/design/protocols.md section 4).

Agent-level queries take ``agent_rows(agents, runs)``: the workers' rows (the coordinator,
agent -1, is left out: it assigns roles rather than taking one) with their run's design columns.
A *role slot* is a participating worker with a non-empty normalised role (``role_norm``).
orgsweep's definitions where the paper gives none:

- unique roles: distinct ``role_norm`` over a group's slots; ``unique_share`` = distinct /
  slots; ``once_share`` = share of role names used exactly once; ``run_unique_share`` = mean
  over run steps of distinct / slots (the paper's "75% unique at N = 4").
- RSI (role stability index) = share of (agent, consecutive step) pairs of an episode, both
  steps role slots, in which ``role_norm`` is unchanged; undefined (no pairs) for 1-step
  episodes.
- role Gini: Gini coefficient of the role usage counts of a group (0 = all roles equally used),
  as ``agents.metrics.gini`` computes it per run.
- non-participation: ``voluntary`` (the agent abstained), ``directed`` (excluded by the
  coordinator) and ``other`` (invalid output, removed).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analysis.tables._common import with_derived

BY = ("block", "backend", "arm", "model", "n_agents", "roles", "level")
"""Groups hold every design factor fixed (pooling over N reversed a correlation's sign)."""
_RUN_COLUMNS = (
    "block",
    "backend",
    "steps",
    "arm",
    "protocol",
    "n_agents",
    "roles",
    "level",
    "task_id",
    "task_hash",
    "seed",
    "quality",
)

_AGENT_COLUMNS = (
    "episode_id",
    "step",
    "agent",
    "model",
    "role",
    "role_norm",
    "participate",
    "abstain_reason",
    "prompt_tokens",
    "completion_tokens",
)


def agent_rows(agents: pl.LazyFrame, runs: pl.LazyFrame) -> pl.LazyFrame:
    """Workers' agent rows with their run's design columns and quality; ``model`` is the run's
    model, ``agent_model`` the agent's own (they differ after a model-swap shock)."""
    design = with_derived(runs).select("episode_id", "step", "model", *_RUN_COLUMNS)
    return (
        agents.select(_AGENT_COLUMNS)
        .filter(pl.col("agent") >= 0)
        .rename({"model": "agent_model"})
        .join(design, on=["episode_id", "step"], how="inner")
    )


def _slots(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.filter(pl.col("participate") & (pl.col("role_norm") != ""))


def unique_roles(rows: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Per group: runs, role slots, distinct roles, unique_share, once_share,
    run_unique_share and mean distinct roles per run step."""
    by = list(by)
    slots = _slots(rows)
    counts = (
        slots.group_by(*by, "role_norm")
        .len()
        .group_by(by)
        .agg(
            pl.col("len").sum().alias("slots"),
            pl.len().alias("unique_roles"),
            (pl.col("len") == 1).sum().alias("once"),
        )
    )
    per_run = (
        slots.group_by(*by, "episode_id", "step")
        .agg(pl.col("role_norm").n_unique().alias("u"), pl.len().alias("n"))
        .group_by(by)
        .agg(
            pl.len().alias("runs"),
            pl.col("u").mean().alias("roles_per_run"),
            (pl.col("u") / pl.col("n")).mean().alias("run_unique_share"),
        )
    )
    return (
        per_run.join(counts, on=by, how="inner", nulls_equal=True)
        .select(
            *by,
            "runs",
            "slots",
            "unique_roles",
            (pl.col("unique_roles") / pl.col("slots")).alias("unique_share"),
            (pl.col("once") / pl.col("unique_roles")).alias("once_share"),
            "roles_per_run",
            "run_unique_share",
        )
        .sort(by)
    )


def role_stability(rows: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """RSI per group: (agent, consecutive step) pairs, unchanged pairs and ``rsi`` = their
    share. Groups whose episodes have one step have no pairs and do not appear."""
    by = list(by)
    slot = pl.col("participate") & (pl.col("role_norm") != "")
    prev = {c: pl.col(c).shift(1) for c in ("episode_id", "agent", "step", "role_norm", "slot")}
    # One sort and plain shifts: a window per agent is far slower on a million rows.
    return (
        rows.filter(pl.col("steps") > 1)
        .select(*by, "episode_id", "agent", "step", "role_norm", slot.alias("slot"))
        .sort("episode_id", "agent", "step")
        .with_columns(**{f"prev_{c}": e for c, e in prev.items()})
        .filter(
            (pl.col("prev_episode_id") == pl.col("episode_id"))
            & (pl.col("prev_agent") == pl.col("agent"))
            & (pl.col("prev_step") == pl.col("step") - 1)
            & pl.col("slot")
            & pl.col("prev_slot")
        )
        .group_by(by)
        .agg(
            pl.len().alias("pairs"),
            (pl.col("role_norm") == pl.col("prev_role_norm")).sum().alias("unchanged"),
        )
        .with_columns(rsi=pl.col("unchanged") / pl.col("pairs"))
        .sort(by)
    )


def role_gini(rows: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Per group: distinct roles and ``gini`` of their usage counts over the group's slots."""
    by = list(by)
    x = pl.col("len").sort()
    n = pl.len()
    gini = 2 * (pl.int_range(1, n + 1) * x).sum() / (n * x.sum()) - (n + 1) / n
    return (
        _slots(rows)
        .group_by(*by, "role_norm")
        .len()
        .group_by(by)
        .agg(n.alias("unique_roles"), pl.when(n > 1).then(gini).otherwise(0.0).alias("gini"))
        .sort(by)
    )


def abstention(rows: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Non-participation per group: worker slots, idle share, voluntary / directed / other
    counts, voluntary_rate (of all slots) and voluntary_share (of non-participants)."""
    by = list(by)
    reason = pl.col("abstain_reason")
    idle = ~pl.col("participate")
    return (
        rows.group_by(by)
        .agg(
            pl.len().alias("slots"),
            idle.sum().alias("idle"),
            (idle & (reason == "voluntary")).sum().alias("voluntary"),
            (idle & (reason == "excluded_by_coordinator")).sum().alias("directed"),
        )
        .with_columns(
            other=pl.col("idle") - pl.col("voluntary") - pl.col("directed"),
            idle_share=pl.col("idle") / pl.col("slots"),
            voluntary_rate=pl.col("voluntary") / pl.col("slots"),
            voluntary_share=pl.col("voluntary") / pl.col("idle"),
        )
        .sort(by)
    )


def abstention_by_reason(rows: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Non-participating worker slots per group and ``abstain_reason``, with their share."""
    by = list(by)
    return (
        rows.filter(~pl.col("participate"))
        .with_columns(
            pl.when(pl.col("abstain_reason") == "")
            .then(pl.lit("unspecified"))
            .otherwise(pl.col("abstain_reason"))
            .alias("reason")
        )
        .group_by(*by, "reason")
        .len("slots")
        .with_columns(share=pl.col("slots") / pl.col("slots").sum().over(by))
        .sort(*by, "reason")
    )


def participation(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Per run step: design columns, participation rate (participating / active) and Q."""
    return with_derived(runs).select(
        "episode_id", "step", "task_hash", *BY, "protocol", "participation", "quality"
    )


def participation_quality(runs: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Per group: runs, mean participation, mean Q and the Spearman correlation of
    participation with Q across the group's run steps (null when either is constant)."""
    return _scored_groups(
        participation(runs),
        by,
        pl.col("participation").mean(),
        pl.col("quality").mean().alias("Q"),
        pl.when((pl.col("participation").n_unique() > 1) & (pl.col("quality").n_unique() > 1))
        .then(pl.corr("participation", "quality", method="spearman"))
        .alias("spearman_r"),
    )


def efficiency(runs: pl.LazyFrame, by: Sequence[str] = BY) -> pl.LazyFrame:
    """Per group: runs, Q, agent tokens per run, tokens per quality point (tokens / Q),
    Q_per_1k_tok = Q / (tokens / 1000), and cost_usd per run and per quality point (null
    unless a price is configured); ratios of means."""
    return _scored_groups(
        with_derived(runs),
        by,
        pl.col("quality").mean().alias("Q"),
        pl.col("tokens").mean(),
        pl.col("cost_usd").mean(),
    ).with_columns(
        tokens_per_q=pl.col("tokens") / pl.col("Q"),
        Q_per_1k_tok=pl.col("Q") / (pl.col("tokens") / 1000),
        cost_per_q=pl.col("cost_usd") / pl.col("Q"),
    )


def _scored_groups(frame: pl.LazyFrame, by: Sequence[str], *aggs: pl.Expr) -> pl.LazyFrame:
    """The run steps of ``frame`` with a quality score, per group of ``by`` (sorted): their
    count ``runs``, then ``aggs``."""
    by = list(by)
    scored = frame.filter(pl.col("quality").is_not_null())
    return scored.group_by(by).agg(pl.len().alias("runs"), *aggs).sort(by)


def role_matrix(
    rows: pl.LazyFrame,
    *,
    model: str,
    arm: str,
    n_agents: int,
    roles: str = "free",
    tasks: int = 10,
) -> pl.LazyFrame:
    """Fig. 4: for one model, protocol arm, N and role mode, the first ``tasks`` run steps (by
    level, task and seed): per agent and task, ``role_norm``, ``participate`` and
    ``abstain_reason``, with ``task`` the step's column (0..tasks-1)."""
    cell = rows.filter(
        (pl.col("model") == model)
        & (pl.col("arm") == arm)
        & (pl.col("n_agents") == n_agents)
        & (pl.col("roles") == roles)
    )
    chosen = (
        cell.select("episode_id", "step", "level", "task_id", "seed")
        .unique()
        .sort("level", "task_id", "seed", "episode_id", "step")
        .head(tasks)
        .with_row_index("task")
    )
    return (
        cell.join(chosen.select("episode_id", "step", "task"), on=["episode_id", "step"])
        .select(
            pl.col("task").cast(pl.Int32), "agent", "role_norm", "participate", "abstain_reason"
        )
        .sort("task", "agent")
    )
