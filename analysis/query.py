"""SQL over the result tables (Polars SQL), with errors that name the tables' columns."""

from __future__ import annotations

import polars as pl

from analysis.results import Results, load
from sweep.errors import UserError


def query(results: Results | str, sql: str) -> pl.DataFrame:
    res = load(results) if isinstance(results, str) else results
    tables = res.tables()
    if isinstance(results, str):  # failed episodes, hidden from `runs` (README "Failures")
        failed = load(results, include_failed=True).runs
        tables["failed"] = failed.filter(pl.col("status") == "failed")
    ctx = pl.SQLContext(frames=tables, eager=False)
    try:
        out = ctx.execute(sql)
        return out.collect()
    except (pl.exceptions.PolarsError, ValueError) as e:
        cols = "; ".join(
            f"{name}({', '.join(lf.collect_schema().names())})" for name, lf in tables.items()
        )
        raise UserError(f"query failed: {str(e).strip().splitlines()[0]}\ntables: {cols}") from None
