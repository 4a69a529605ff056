"""What the servers said they served, and which token counts are estimates: the report's
Provenance section (docs/design/inference.md). Every value is a count or an id.

The runs columns come from ``agents.served``: ``served_model`` / ``judge_served_model`` (ids
the server reported), ``served_mismatch`` (calls whose id is not the configured model) and
``tokens_estimated`` / ``judge_tokens_estimated`` (calls whose token counts are characters / 4
because the server sent no usage). Parts written before these columns read them as null; the
sim's calls are all estimates, so a sim row without them counts every call as estimated.
"""

from __future__ import annotations

import polars as pl

BY = ("block", "backend", "model")


def _calls() -> pl.Expr:
    return (
        pl.col("llm_calls").fill_null(0)
        + pl.col("repair_calls").fill_null(0)
        + pl.col("judge_calls").fill_null(0)
    )


def _estimated() -> pl.Expr:
    """Calls of a run step whose token counts are estimates; null where unknown."""
    recorded = pl.col("tokens_estimated") + pl.col("judge_tokens_estimated")
    return pl.coalesce(recorded, pl.when(pl.col("backend") == "sim").then(_calls()))


def served_table(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Per (block, backend, model): the served ids reported for agents and judge, fingerprints,
    run steps, calls, calls with estimated tokens and calls served by another model."""
    return (
        runs.with_columns(calls=_calls(), estimated=_estimated())
        .group_by(BY)
        .agg(
            _joined("served_model").alias("served_model"),
            _joined("judge_served_model").alias("judge_served_model"),
            _joined("served_fingerprint").alias("fingerprints"),
            pl.len().alias("run_steps"),
            pl.col("calls").sum(),
            pl.col("estimated").sum().alias("calls_estimated"),
            pl.col("served_mismatch").sum().alias("calls_mismatched"),
        )
        .sort(BY)
    )


def _joined(col: str) -> pl.Expr:
    """Distinct non-empty ids of a comma-separated column over a group, joined again."""
    parts = pl.col(col).fill_null("").str.split(",").explode()
    return parts.filter(parts != "").unique().sort().str.join(",")


def counts(runs: pl.DataFrame) -> dict[str, int | None]:
    """``stats.json`` ``provenance``: LLM calls, calls with estimated token counts (None where
    no run step records it) and calls served by another model than the configured one."""
    est = runs.select(_estimated()).to_series()
    return {
        "calls": int(runs.select(_calls().sum()).item() or 0),
        "calls_estimated": int(est.sum()) if est.drop_nulls().len() else None,
        "calls_mismatched": int(runs["served_mismatch"].fill_null(0).sum()),
    }


def head_lines(runs: pl.DataFrame) -> list[str]:
    """The report's lines counting estimated token counts and served-model mismatches
    (``counts``' figures)."""
    c = counts(runs)
    calls, out = c["calls"], []
    if c["calls_estimated"]:
        unknown = runs.select(_estimated()).to_series().null_count()
        tail = f" ({unknown} run steps predate the flag and are not counted)" if unknown else ""
        out.append(
            f"Token counts of {c['calls_estimated']} of {calls} LLM calls are estimates "
            "(characters / 4: the sim backend, or a server that sent no usage); tokens, C and "
            f"cost columns inherit it{tail} (Provenance)."
        )
    if c["calls_mismatched"]:
        out.append(
            f"{c['calls_mismatched']} of {calls} LLM calls were answered by a server reporting "
            "another model id than the configured one (Provenance)."
        )
    return out
