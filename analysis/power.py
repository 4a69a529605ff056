"""Minimum detectable effects of a sweep's planned comparisons, for ``orgsweep plan``
(docs/design/inference.md).

The report tests each comparison on per-task means, so its sample size is the block's
``tasks_per_cell`` (seeds average within a task), and Holm's correction spends alpha over the
comparison's family (one per factor and block unless declared). The minimum detectable effect
is the d_z a two-sided paired t-test detects with 80% power at alpha / m, the level the
smallest p of a family of m must reach (statsmodels' ``TTestPower``); times the SD of paired
task differences (a pilot's, or ``DEFAULT_SD_DIFF``) it is a difference in Q. A family whose
exact Wilcoxon floor (2 / 2^n) is above alpha / m can never reject, whatever the effect.
"""

from __future__ import annotations

import math
import statistics as pystats
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.stats import min_attainable_p
from analysis.tables.inference import ALPHA
from sweep.config import Block

POWER = 0.80
DEFAULT_SD_DIFF = 0.10
"""SD of paired per-task differences in Q assumed without a pilot (Q lies in [0.25, 1])."""


@dataclass(frozen=True)
class PlannedComparison:
    block: str
    factor: str
    family: str
    comparisons: int  # in the family
    units: int  # tasks per comparison
    alpha_each: float
    mde_dz: float
    mde_q: float
    can_reject: bool

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("mde_dz", "mde_q"):
            out[k] = out[k] if math.isfinite(out[k]) else None
        return out


def minimum_detectable(
    blocks: tuple[Block, ...],
    *,
    sd_diff: float = DEFAULT_SD_DIFF,
    declared: Mapping[str, Mapping[str, str]] | None = None,
) -> list[PlannedComparison]:
    """Per (block, factor) with two or more values: the family's size, the per-comparison
    alpha and the minimum detectable d_z and Q difference (module docstring)."""
    from statsmodels.stats.power import TTestPower

    rows: list[tuple[Block, str, int, str]] = []
    for b in blocks:
        for factor, n_values, how in _factors(b):
            if n_values < 2:
                continue
            pairs = n_values * (n_values - 1) // 2 if how == "all" else 1
            strata = _cells(b) // n_values
            name = (declared or {}).get(b.name, {}).get(factor) or f"{factor}/{b.name}"
            rows.append((b, factor, pairs * strata, name))
    family_size: dict[str, int] = {}
    for _, _, m, name in rows:
        family_size[name] = family_size.get(name, 0) + m
    out = []
    for b, factor, _, name in rows:
        m, n = family_size[name], b.tasks_per_cell
        alpha = ALPHA / m
        ok = n >= 2 and min_attainable_p("wilcoxon", n, n) <= alpha
        dz = (
            float(np.ravel(TTestPower().solve_power(nobs=n, alpha=alpha, power=POWER))[0])
            if ok
            else math.inf
        )
        out.append(PlannedComparison(b.name, factor, name, m, n, alpha, dz, dz * sd_diff, ok))
    return out


def pilot_sd_diff(stats_doc: Mapping[str, Any]) -> float | None:
    """The median SD of paired task differences over a pilot's paired comparisons
    (delta / d_z from its ``stats.json``); None when it has none."""
    sds = [
        abs(c["delta"] / c["d_z"])
        for c in stats_doc.get("comparisons", [])
        if c.get("paired") and c.get("d_z") and c.get("delta") is not None
    ]
    return float(pystats.median(sds)) if sds else None


def _factors(b: Block) -> list[tuple[str, int, str]]:
    return [
        ("protocol", len(b.protocols), "all"),
        ("model", len(b.models), "all"),
        ("roles", len(b.roles), "all"),
        ("n_agents", len(b.n_agents), "extremes"),
        ("level", len(b.levels), "extremes"),
    ]


def _cells(b: Block) -> int:
    return len(b.protocols) * len(b.models) * len(b.roles) * len(b.n_agents) * len(b.levels)


def power_report(typed: Any, cfg: Any, pilot: str | None) -> dict[str, Any]:
    """``orgsweep plan``'s power section: the SD used, each planned comparison, and lines."""
    from omegaconf import OmegaConf

    from analysis.tables.inference import declared_families

    sd, source = DEFAULT_SD_DIFF, f"default {DEFAULT_SD_DIFF}"
    if pilot:
        sd_pilot = _pilot(pilot)
        if sd_pilot is not None:
            sd, source = sd_pilot, f"pilot {pilot}"
    raw = OmegaConf.to_container(cfg, resolve=True)
    declared = declared_families(
        {str(k): v for k, v in raw.items()} if isinstance(raw, dict) else None
    )
    rows = minimum_detectable(typed.blocks, sd_diff=sd, declared=declared)
    lines = [
        f"minimum detectable effects (80% power, Holm family alpha; SD of paired diffs {source}):"
    ]
    for r in rows:
        mde = (
            f"d_z {r.mde_dz:.2f} = {r.mde_q:.3f} Q"
            if r.can_reject
            else f"none: {r.units} tasks cannot reach p <= {r.alpha_each:.2g}"
        )
        lines.append(
            f"  {r.block} {r.factor}: {r.comparisons} comparisons in {r.family}, "
            f"{r.units} tasks each: {mde}"
        )
    return {
        "sd_diff": sd,
        "sd_source": source,
        "comparisons": [r.to_dict() for r in rows],
        "lines": lines,
    }


def _pilot(results_dir: str) -> float | None:
    """The pilot's SD of paired differences, from its report's stats.json or its runs."""
    import json

    from sweep.errors import UserError
    from sweep.results.store import ResultStore

    store = ResultStore(results_dir)
    if not store.exists():
        raise UserError(f"--pilot {results_dir}: not an orgsweep results directory")
    text = store.read_text("report/stats.json")
    if text is None:
        from analysis.tables.inference import statistics
        from sweep.results.reader import load

        doc = statistics(load(results_dir).runs.collect())
    else:
        doc = json.loads(text)
    return pilot_sd_diff(doc)
