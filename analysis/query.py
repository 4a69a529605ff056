"""SQL over the result tables (Polars SQL), with errors that name the tables' columns."""

from __future__ import annotations

import polars as pl

from sweep.errors import UserError
from sweep.results.reader import Results, load

SIM_NOTICE = (
    "note: {n} of these {total} rows come from the synthetic `sim` backend (backend == 'sim'): "
    "not evidence about LLMs."
)

ALL_SIM = (
    "note: every run in these results comes from the synthetic `sim` backend: not evidence "
    "about LLMs."
)


def sim_notice(results: Results | str, df: pl.DataFrame) -> str | None:
    """A notice when the query's rows are sim rows: by their ``backend`` column, else (an
    aggregate or a table without one) when every run of the results directory is sim."""
    if "backend" in df.columns:
        n = int((df["backend"] == "sim").sum())
        return SIM_NOTICE.format(n=n, total=df.height) if n else None
    res = load(results) if isinstance(results, str) else results
    backends = set(res.runs.select("backend").unique().collect()["backend"].to_list())
    if backends == {"sim"}:
        return ALL_SIM
    return None


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
