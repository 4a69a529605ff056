"""The paper's tables from our data: pure ``LazyFrame -> LazyFrame`` queries over ``runs``
(``paper``), the derived columns and Balance Index they share (``_common``), and the statistics
behind them (``inference``, the report's ``stats.json``)."""

from __future__ import annotations

from analysis.tables._common import (
    BALANCE_WEIGHTS,
    DESIGN,
    MATCH,
    balance_index,
    minmax,
    varying,
    with_arm,
    with_derived,
)
from analysis.tables.inference import FAMILIES, declared_families, find, statistics
from analysis.tables.intervals import with_ci
from analysis.tables.paper import (
    STRATA,
    TABLE_IV_LEVEL,
    closed_vs_open,
    free_vs_fixed,
    model_comparison,
    overview,
    protocol_comparison,
    quality_by_level,
    scaling,
    seq_vs_coord,
)
from analysis.tables.resilience import resilience

__all__ = [
    "BALANCE_WEIGHTS",
    "DESIGN",
    "FAMILIES",
    "MATCH",
    "STRATA",
    "TABLE_IV_LEVEL",
    "balance_index",
    "closed_vs_open",
    "declared_families",
    "find",
    "free_vs_fixed",
    "minmax",
    "model_comparison",
    "overview",
    "protocol_comparison",
    "quality_by_level",
    "resilience",
    "scaling",
    "seq_vs_coord",
    "statistics",
    "varying",
    "with_arm",
    "with_ci",
    "with_derived",
]
