"""The report's statistics (``stats.json``), at the task level (docs/design/inference.md).

Per factor of ``FAMILIES``, within each stratum of ``STRATA`` (block, backend and every other
design factor fixed) where the factor takes two or more values:

- Rows are episodes (steps averaged: ``analysis.tables.units.per_episode``), or run steps with
  ``per_step=True``; each is keyed by its task ``unit`` and the episode keys.
- Omnibus: Friedman on the (unit x group) matrix of unit means when every group saw the same
  units (a blocked design), else Kruskal-Wallis on unit means, with the ICC and the run-level
  Kruskal-Wallis p for contrast.
- Mixed models (``mixed_models``): per research question (factor, block, backend), the model
  ``Q ~ factor + stratum + (1 | task)`` (``analysis.mixed``): each level's effect and CI.
- Pairs (``analysis.tables.comparison``): every pair of arms, models or role modes (``a`` = the
  higher mean), the extremes for N and level; Wilcoxon signed-rank on unit means when the rows
  pair one-to-one on the episode keys, else Mann-Whitney U; bootstrap CIs over units; d_z beside
  d_av; ICC and effective n.
- Holm families: declared per block and factor in the sweep config (``families:`` next to the
  block), else one family per (factor, block); omnibus tests form their own family beside it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis import stats
from analysis.mixed import mixed_model
from analysis.tables.comparison import compare_units, interval, mean_ci, wilcoxon
from analysis.tables.paper import STRATA
from analysis.tables.units import EPISODE_KEYS, per_episode, per_step


@dataclass(frozen=True)
class Family:
    column: str  # the runs column compared
    factor: str  # its name in stats.json
    pairs: str  # "all" | "extremes"


FAMILIES = (
    Family("arm", "protocol", "all"),
    Family("n_agents", "n_agents", "extremes"),
    Family("model", "model", "all"),
    Family("level", "level", "extremes"),
    Family("roles", "roles", "all"),
)
ALPHA = 0.05
Declared = Mapping[str, Mapping[str, str]]
"""block -> factor -> Holm family name, from the blocks' ``families:`` in the sweep config."""


def statistics(
    runs: pl.LazyFrame | pl.DataFrame,
    metric: str = "quality",
    *,
    per_step: bool = False,
    families: Declared | None = None,
) -> dict[str, Any]:
    """``{"omnibus": [...], "comparisons": [...], "families": {...}, ...}`` (module docstring)."""
    rows = (per_step_rows if per_step else per_episode)(runs.lazy(), metric).collect()
    keys = (*EPISODE_KEYS, "step") if per_step else EPISODE_KEYS
    omnibus: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        # scipy warns of precision loss when one group's values are all equal (common with
        # 1/16-step quality scores in small cells); the tests stay defined and are reported.
        warnings.simplefilter("ignore", RuntimeWarning)
        for fam in FAMILIES:
            _tests(rows, fam, metric, keys, omnibus, comparisons)
    summary = _holm(omnibus, comparisons, families or {})
    mixed = [m for fam in FAMILIES for m in _mixed(rows, fam, metric, families or {})]
    return {
        "metric": metric,
        "unit": "task (a unit = the episode's task hashes in step order)",
        "rows": "run steps" if per_step else "episodes (steps averaged)",
        "alpha": ALPHA,
        "n_tests": sum(e["p_value"] is not None for e in (*omnibus, *comparisons)),
        "source": "analysis.tables.inference.statistics",
        "families": summary,
        "omnibus": omnibus,
        "comparisons": comparisons,
        "mixed_models": mixed,
    }


per_step_rows = per_step


def declared_families(config: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """block -> factor -> family from a manifest's ``config`` (``sweep.blocks[*].families``)."""
    blocks = ((config or {}).get("sweep") or {}).get("blocks") or []
    return {
        str(b.get("name")): {str(k): str(v) for k, v in (b.get("families") or {}).items()}
        for b in blocks
        if isinstance(b, Mapping)
    }


def find(
    comparisons: Iterable[dict[str, Any]], factor: str, pair: set[Any], **stratum: Any
) -> dict[str, Any] | None:
    """The comparison of ``factor`` between the two values in ``pair`` within a stratum that
    holds at least ``stratum``'s items."""
    for c in comparisons:
        if (
            c["factor"] == factor
            and {c["a"], c["b"]} == pair
            and all(c["stratum"].get(k) == v for k, v in stratum.items())
        ):
            return c
    return None


def _tests(
    rows: pl.DataFrame,
    fam: Family,
    metric: str,
    keys: tuple[str, ...],
    omnibus: list[dict[str, Any]],
    comparisons: list[dict[str, Any]],
) -> None:
    strata = STRATA[fam.column]
    for key, part in rows.partition_by(strata, as_dict=True, maintain_order=True).items():
        groups = {k[0]: g for k, g in part.partition_by(fam.column, as_dict=True).items()}
        if len(groups) < 2:
            continue
        stratum = dict(zip(strata, key, strict=True))
        base = {"factor": fam.factor, "column": fam.column, "stratum": stratum, "metric": metric}
        omnibus.append({**base, **_omnibus(part, fam.column, metric, groups)})
        for a, b in _pairs(groups, fam.pairs, metric):
            entry = compare_units(groups[a], groups[b], metric, keys)
            comparisons.append({**base, "a": a, "b": b, **entry})


def _omnibus(
    part: pl.DataFrame, column: str, metric: str, groups: dict[Any, pl.DataFrame]
) -> dict[str, Any]:
    means = part.group_by(column, "unit").agg(pl.col(metric).mean()).sort(column, "unit")
    wide = means.pivot(on=column, index="unit", values=metric)
    blocked = wide.drop_nulls().height == wide.height
    if blocked and len(groups) >= 3:
        res = stats.friedman(wide.drop("unit").to_numpy())
    elif blocked:
        m = wide.drop("unit").to_numpy()
        pair = wilcoxon(m[:, 0], m[:, 1])[0]
        res = stats.Omnibus(pair.test, pair.statistic, pair.p_value, m.shape[0], 2)
    else:
        res = stats.kruskal({str(k): g[metric].to_list() for (k,), g in means.group_by(column)})
    run_level = stats.kruskal({str(k): g[metric].to_list() for k, g in groups.items()})
    icc = stats.clustered(
        part[metric].to_numpy(),
        (part[column].cast(pl.String) + "|" + part["unit"]).to_list(),
        part["unit"].to_list(),
    )
    unit_means = {
        str(k): g[metric].to_numpy() for (k,), g in means.group_by(column, maintain_order=True)
    }
    return {
        "test": res.test,
        "blocked": blocked,
        "means": {k: _num(float(v.mean())) for k, v in sorted(unit_means.items())},
        "ci": {k: interval(mean_ci(v, n_resamples=999)) for k, v in sorted(unit_means.items())},
        "statistic": _num(res.statistic),
        "p_value": _num(res.p_value),
        "n": part.height,
        "units": wide.height,
        "k": len(groups),
        "groups": sorted(groups),
        "icc": _num(icc.icc),
        "icc_ci": interval(icc.icc_ci),
        "n_eff": _num(icc.n_eff),
        "n_eff_ci": interval(icc.n_eff_ci),
        **_seed_task_variance(part, column, metric),
        "run_level_test": run_level.test,
        "run_level_p": _num(run_level.p_value),
    }


def _mixed(
    rows: pl.DataFrame, fam: Family, metric: str, declared: Declared
) -> list[dict[str, Any]]:
    """One mixed model per research question: per block and backend where ``fam`` varies
    within a stratum, ``Q ~ factor + stratum + (1 | task)`` over the strata where it varies."""
    strata = STRATA[fam.column]
    rest = [c for c in strata if c not in ("block", "backend")]
    varied = rows.filter(pl.col(fam.column).n_unique().over(strata) >= 2)
    out = []
    for (block, backend), part in varied.partition_by(
        ["block", "backend"], as_dict=True, maintain_order=True
    ).items():
        label = pl.concat_str([pl.col(c).cast(pl.String) for c in rest], separator="|")
        fit = mixed_model(
            part[metric].to_numpy(),
            part[fam.column].cast(pl.String).to_list(),
            part["unit"].to_list(),
            part.select(label.alias("s"))["s"].to_list() if rest else None,
        )
        name = declared.get(str(block), {}).get(fam.factor) or f"{fam.factor}/{block}"
        base = {"factor": fam.factor, "block": block, "backend": backend, "family": name}
        out.append({**base, **(fit.to_dict() if fit else {"model": None})})
    return out


def _seed_task_variance(part: pl.DataFrame, column: str, metric: str) -> dict[str, Any]:
    """Where a stratum has several seeds per unit: the variance between tasks and between seeds
    of one task, one-way ANOVA components (``stats.clustered``) of the rows centred on their
    group's mean, a cluster being (group, unit, shock kind, shock step), so rows of a cluster
    differ only by seed; CIs by the same bootstrap over units."""
    if part["seed"].n_unique() < 2:
        return {}
    centred = part[metric] - part.select(pl.col(metric).mean().over(column))[metric]
    label = pl.concat_str(
        [pl.col(c).cast(pl.String) for c in (column, "unit", "shock_kind", "shock_step")],
        separator="|",
    ).alias("cluster")
    clusters = part.select(label)["cluster"].to_list()
    v = stats.clustered(centred.to_numpy(), clusters, part["unit"].to_list())
    return {
        "var_task": _num(v.var_between),
        "var_task_ci": interval(v.var_between_ci),
        "var_seed": _num(v.var_within),
        "var_seed_ci": interval(v.var_within_ci),
    }


def _pairs(groups: dict[Any, pl.DataFrame], how: str, metric: str) -> list[tuple[Any, Any]]:
    keys = sorted(groups)
    if how == "extremes":
        return [(keys[-1], keys[0])]
    mean = {k: _f(g[metric].mean()) for k, g in groups.items()}
    return [(x, y) if mean[x] >= mean[y] else (y, x) for x, y in itertools.combinations(keys, 2)]


def _holm(
    omnibus: list[dict[str, Any]], comparisons: list[dict[str, Any]], declared: Declared
) -> dict[str, dict[str, Any]]:
    """Sets ``family`` and ``p_holm`` on every entry; returns each family's size and alpha."""
    members: dict[str, list[dict[str, Any]]] = {}
    for kind, entries in (("omnibus", omnibus), ("pairs", comparisons)):
        for e in entries:
            block = str(e["stratum"].get("block"))
            name = declared.get(block, {}).get(e["factor"]) or f"{e['factor']}/{block}"
            e["family"] = f"{name} (omnibus)" if kind == "omnibus" else name
            members.setdefault(e["family"], []).append(e)
    out: dict[str, dict[str, Any]] = {}
    for name, entries in members.items():
        adjusted = stats.holm([math.nan if e["p_value"] is None else e["p_value"] for e in entries])
        for e, p in zip(entries, adjusted, strict=True):
            e["p_holm"] = _num(p)
        m = sum(e["p_value"] is not None for e in entries)
        floor = [float(e["min_attainable_p"]) for e in entries if e.get("min_attainable_p")]
        out[name] = {
            "tests": m,
            "alpha": ALPHA,
            "can_reject": bool(not floor or min(floor) * max(m, 1) <= ALPHA),
        }
    return out


def _f(v: Any) -> float:
    return float(v) if isinstance(v, int | float | np.floating) else math.nan


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
