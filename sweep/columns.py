"""Console output that fits 80 columns on purpose rather than by the terminal's wrapping."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import polars as pl
from rich import box
from rich.table import Table


def wrap_counts(label: str, counts: Mapping[str, int], width: int = 80) -> str:
    """``label: a 1, b 2, ...`` wrapped between entries, never inside a ``name count`` pair,
    continuation lines indented under the first entry."""
    nbsp = "\u00a0"  # textwrap breaks at ASCII whitespace only
    items = ", ".join(f"{k}{nbsp}{v:,}" for k, v in counts.items())
    head = f"  {label}: "
    text = textwrap.fill(
        items, width, initial_indent=head, subsequent_indent=" " * 4, break_long_words=False
    )
    return text.replace(nbsp, " ")


def frame_table(df: pl.DataFrame, title: str | None = None) -> Table:
    """A rich table of ``df`` (numbers right-aligned) that rich fits into the console's width."""
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for name, dtype in df.schema.items():
        t.add_column(name, justify="right" if dtype.is_numeric() else "left")
    for row in df.iter_rows():
        t.add_row(*("" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in row))
    return t
