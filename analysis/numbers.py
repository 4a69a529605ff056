"""Numbers formatted for reading in the report's tables.

One format per column (not per cell), so decimals line up: the number of decimals follows the
column's largest magnitude (3 below 100, 1 below 1,000, none above, with thousands separators).
p-values get 3 decimals, or a mantissa and a power of ten below 0.001, written so that no
renderer breaks them mid-number: ``6.9e-15`` in Markdown, ``6.9×10<sup>−15</sup>`` in HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import polars as pl

P_COLUMNS = {"p", "p_value", "p_holm", "mwu_p", "welch_p", "p_run_level"}
SIGNIFICANT = 0.05


def is_numeric(series: pl.Series) -> bool:
    return series.dtype.is_numeric()


def formatter(column: str, series: pl.Series, *, html_out: bool) -> Callable[[Any], str]:
    """The format of every cell of ``series`` (a column named ``column``)."""
    if column in P_COLUMNS:
        return lambda v: _p(v, html_out)
    if series.dtype.is_float():
        finite = [abs(x) for x in series.drop_nulls().to_list() if not math.isnan(x)]
        top = max(finite, default=0.0)
        spec = ",.0f" if top >= 1000 else ".1f" if top >= 100 else ".3f"
        return lambda v: _text(v, lambda x: format(x, spec))
    if series.dtype.is_integer():
        return lambda v: _text(v, lambda x: f"{x:,}")
    return lambda v: _text(v, str)


def _text(v: Any, fmt: Callable[[Any], str]) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return fmt(v)


def _p(v: Any, html_out: bool) -> str:
    if v is None or not isinstance(v, float | int):
        return "" if v is None else html.escape(str(v)) if html_out else str(v)
    if math.isnan(v):
        return "nan"
    if v >= 1e-3 or v == 0:
        return f"{v:.3f}"
    mantissa, exp = f"{v:.1e}".split("e")
    if not html_out:
        return f"{mantissa}e{int(exp)}"
    # Pre-escaped HTML: the renderer marks p cells as markup.
    return f"{html.escape(mantissa)}×10<sup>−{abs(int(exp))}</sup>"


def significant(df: pl.DataFrame) -> pl.DataFrame:
    """The rows with Holm-adjusted p below ``SIGNIFICANT`` (all rows without a p_holm)."""
    if "p_holm" not in df.columns:
        return df
    return df.filter(pl.col("p_holm") < SIGNIFICANT)
