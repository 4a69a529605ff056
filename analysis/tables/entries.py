"""The report's test tables from ``stats.json`` entries, every estimate as ``x [lo, hi]``
(``analysis.tables.intervals.fmt``); p-values and test statistics carry no CI, counts are
named as counts (``units``, ``n``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from analysis.tables.intervals import fmt


def pairs_table(entries: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per pairwise entry: task-level test, estimates with CIs, ICC, effective n, the
    Holm family and the run-level p that pseudo-replication would have reported."""
    rows = [
        {
            "stratum": _stratum(e),
            "compared": f"{e['a']} vs {e['b']}",
            "family": e["family"],
            "test": e["test"] + (" (paired)" if e["paired"] else ""),
            "units": f"{e['units_a']} / {e['units_b']}",
            "mean_a": fmt(e["mean_a"], e["ci_a"]),
            "mean_b": fmt(e["mean_b"], e["ci_b"]),
            "delta": fmt(e["delta"], e["ci"]),
            "delta_pct": fmt(e["delta_pct"], e["delta_pct_ci"]),
            "d_z": fmt(e["d_z"], e["d_z_ci"]) if e["paired"] else "",
            "d_av": fmt(e["cohens_d"], e["cohens_d_ci"]),
            **_clustering(e),
            "p": e["p_value"],
            "p_holm": e["p_holm"],
            "p_run_level": e["run_level_p"],
        }
        for e in entries
    ]
    floats = ("p", "p_holm", "p_run_level")
    schema = {k: pl.Float64 if k in floats else pl.String for k in _PAIR_COLS}
    return pl.DataFrame(rows, schema=schema, orient="row")


def omnibus_table(entries: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per omnibus entry: the task-level test, ICC and effective n, the variance
    between tasks and between seeds within a task (where a stratum has several seeds), Holm
    family and p, and the run-level p."""
    rows = [
        {
            "stratum": _stratum(e),
            "compared": f"{e['k']} groups",
            "family": e["family"],
            "test": e["test"],
            "statistic": e["statistic"],
            "units": str(e["units"]),
            **_clustering(e),
            "var_task": _est(e, "var_task"),
            "var_seed": _est(e, "var_seed"),
            "p": e["p_value"],
            "p_holm": e["p_holm"],
            "p_run_level": e["run_level_p"],
        }
        for e in entries
    ]
    floats = ("statistic", "p", "p_holm", "p_run_level")
    schema = {k: pl.Float64 if k in floats else pl.String for k in _OMNI_COLS}
    return pl.DataFrame(rows, schema=schema, orient="row")


def mixed_table(fits: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per research question's mixed model: each level's effect against the reference
    with its 95% CI, the task and residual variances and the ICC."""
    rows = [
        {
            "factor": f["factor"],
            "block": f["block"],
            "backend": f["backend"],
            "family": f["family"],
            "effects": _effects(f),
            "var_task": _est(f, "var_task"),
            "var_residual": _est(f, "var_residual"),
            "icc": _est(f, "icc"),
            "n": str(f.get("n", "")),
            "tasks": str(f.get("n_units", "")),
            "converged": f.get("converged"),
        }
        for f in fits
    ]
    schema = {
        **dict.fromkeys(
            ("factor", "block", "backend", "family", "effects", "var_task", "var_residual", "icc"),
            pl.String,
        ),
        "n": pl.String,
        "tasks": pl.String,
        "converged": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _clustering(e: Mapping[str, Any]) -> dict[str, str | None]:
    return {"icc": _est(e, "icc"), "n_eff": _est(e, "n_eff")}


def _est(e: Mapping[str, Any], key: str) -> str | None:
    """``e[key]`` as ``x [lo, hi]`` from ``e[key + "_ci"]``; None where ``e`` has no value."""
    value = e.get(key)
    return None if value is None else fmt(value, e.get(f"{key}_ci"))


def _effects(fit: Mapping[str, Any]) -> str:
    if not fit.get("model"):
        return "not identified (too few tasks or no replication)"
    parts = [f"{x['level']}: {fmt(x['estimate'], x['ci'])}" for x in fit["effects"]]
    return f"vs {fit['reference']}: " + "; ".join(parts)


def _stratum(e: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in e["stratum"].items())


_PAIR_COLS = (
    "stratum", "compared", "family", "test", "units", "mean_a", "mean_b", "delta",
    "delta_pct", "d_z", "d_av", "icc", "n_eff", "p", "p_holm", "p_run_level",
)  # fmt: skip
_OMNI_COLS = (
    "stratum", "compared", "family", "test", "statistic", "units", "icc", "n_eff", "var_task",
    "var_seed", "p", "p_holm", "p_run_level",
)  # fmt: skip
