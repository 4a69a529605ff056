"""Derived run columns and the Balance Index: orgsweep's operationalisation of what the paper
leaves undefined (docs/design/paper.md sections 7.2-7.3), in one place so every table agrees.

- ``arm``: the protocol, with its varying parameters when a protocol runs with several parameter
  sets (the paper preset runs morphogenetic as a ring and as a power-law graph in one block).
- ``tokens`` = cost C: agent prompt + completion tokens of the run step (the judge's excluded:
  it is the same for every protocol and is not the organisation's cost).
- ``latency`` = T: ``rounds`` by default, the number of sequential LLM-call waves (the critical
  path: Sequential has N), which is backend- and load-independent; ``wall_s`` is reported beside
  it and can be chosen instead (``latency="wall_s"``).
- ``risk`` = R ("compliance failures, errors" in the paper): 1 when the judge scored accuracy
  <= 2 (a factual error) or any agent output failed to parse (``n_parse_errors > 0``), else 0;
  null when the judge failed and nothing failed to parse. R of a group = share of risky runs.
- ``participation`` = n_participating / n_active.
"""

from __future__ import annotations

import polars as pl

DESIGN = ("arm", "model", "n_agents", "roles", "level")
"""Design factors of a run besides its task: what a comparison varies or holds fixed."""
MATCH = ("task_hash", "step", "seed", "shock")
"""With the design factors a comparison holds fixed, what pairs a run of one group with one of
another (same task, step, seed and shock): the sweep's grids give every cell the same tasks."""
BALANCE_WEIGHTS = {"Q": 0.25, "M": 0.20, "T": 0.20, "C": 0.20, "R": 0.15}
LATENCY = ("rounds", "wall_s")


def with_derived(runs: pl.LazyFrame) -> pl.LazyFrame:
    """``runs`` plus ``arm``, ``tokens``, ``participation`` and ``risk`` (module docstring)."""
    return with_arm(runs).with_columns(
        tokens=pl.col("prompt_tokens") + pl.col("completion_tokens"),
        participation=pl.col("n_participating") / pl.col("n_active"),
        risk=((pl.col("accuracy") <= 2) | (pl.col("n_parse_errors") > 0)).cast(pl.Float64),
    )


def with_arm(runs: pl.LazyFrame) -> pl.LazyFrame:
    """Adds ``arm``: ``protocol``, or ``protocol(key:value ...)`` listing the parameters that
    vary between the parameter sets that protocol runs with in ``runs``."""
    names = runs.collect_schema().names()
    if "arm" in names:
        return runs
    sets = runs.select("protocol", "protocol_params").unique()
    tokens = (
        sets.with_columns(
            tok=pl.col("protocol_params").str.replace_all(r'[{}"\s]', "").str.split(",")
        )
        .explode("tok")
        .with_columns(
            n_sets=pl.col("protocol_params").n_unique().over("protocol"),
            n_with=pl.col("protocol_params").n_unique().over("protocol", "tok"),
        )
        .filter(pl.col("n_with") < pl.col("n_sets"))
        .sort("tok")
        .group_by("protocol", "protocol_params")
        .agg(pl.col("tok").str.join(" "))
    )
    labels = sets.join(tokens, on=["protocol", "protocol_params"], how="left").select(
        "protocol",
        "protocol_params",
        arm=pl.when(pl.col("tok").is_null() | (pl.col("tok") == ""))
        .then(pl.col("protocol"))
        .otherwise(pl.format("{}({})", "protocol", "tok")),
    )
    return runs.join(
        labels,
        on=["protocol", "protocol_params"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )


def minmax(
    col: str | pl.Expr, *, within: tuple[str, ...] = ("block",), invert: bool = False
) -> pl.Expr:
    """Min-max scaled to [0, 1] within each ``within`` group, 1 = best. ``invert`` makes the
    smallest value best (T, C, R). A constant column scales to 1 (no run is worse)."""
    c = pl.col(col) if isinstance(col, str) else col
    lo, hi = c.min().over(within), c.max().over(within)
    scaled = (hi - c) / (hi - lo) if invert else (c - lo) / (hi - lo)
    return pl.when(hi > lo).then(scaled).otherwise(pl.when(c.is_not_null()).then(1.0))


def balance_index(runs: pl.LazyFrame, *, latency: str = "rounds") -> pl.LazyFrame:
    """Per run step, the paper's Eq. 4: B = .25 Q^ + .20 M^ + .20 T^ + .20 C^ + .15 R^ (columns
    ``q_hat`` .. ``r_hat`` and ``balance``), each min-max scaled within its block, T (``latency``:
    ``rounds`` or ``wall_s``), C (tokens) and R (risk) inverted so that higher is better."""
    if latency not in LATENCY:
        raise ValueError(f"latency={latency!r}; valid: {', '.join(LATENCY)}")
    w = BALANCE_WEIGHTS
    return (
        with_derived(runs)
        .with_columns(
            q_hat=minmax("quality"),
            m_hat=minmax("mission_relevance"),
            t_hat=minmax(latency, invert=True),
            c_hat=minmax("tokens", invert=True),
            r_hat=minmax("risk", invert=True),
        )
        .with_columns(
            balance=w["Q"] * pl.col("q_hat")
            + w["M"] * pl.col("m_hat")
            + w["T"] * pl.col("t_hat")
            + w["C"] * pl.col("c_hat")
            + w["R"] * pl.col("r_hat")
        )
    )


def varying(lf: pl.LazyFrame, factor: str, within: tuple[str, ...]) -> pl.LazyFrame:
    """Rows of the ``within`` strata in which ``factor`` takes at least two values."""
    return lf.filter(pl.col(factor).n_unique().over(within) >= 2)


def q_stats() -> list[pl.Expr]:
    """Runs, mean and sample SD of quality (judge failures, null quality, left out)."""
    return [
        pl.col("quality").count().alias("runs"),
        pl.col("quality").mean().alias("Q"),
        pl.col("quality").std().alias("Q_sd"),
    ]
