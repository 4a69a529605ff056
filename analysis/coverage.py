"""How much of a sweep's plan is committed: planned vs committed episodes per block and cell.

A report or the viewer over a partial sweep (one still running, or stopped early) must say so
and name the thin cells. ``planned_cells`` plans the stored sweep again (its manifest's
config, without ``sweep.limit``, as ``sweep.results.reader.planned_ids`` does) and ``coverage``
joins it with the committed ``runs`` rows. A cell is (block, protocol, model, N, roles, level);
it is *thin* when fewer than ``THIN_SHARE`` of its planned episodes are committed ok.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl
import yaml

from analysis._render import Section
from sweep.errors import UserError
from sweep.results.store import MANIFEST, ResultStore

CELL = ("block", "protocol", "model", "n_agents", "roles", "level")
THIN_SHARE = 0.5


@dataclass(frozen=True)
class Coverage:
    """``cells``: one row per planned cell (planned, ok, failed, share, thin); ``blocks``: the
    same summed per block. ``planned`` / ``ok``: episode counts over the whole plan."""

    cells: pl.DataFrame
    blocks: pl.DataFrame
    planned: int
    ok: int
    failed: int

    @property
    def partial(self) -> bool:
        return self.ok < self.planned

    @property
    def thin(self) -> pl.DataFrame:
        return self.cells.filter(pl.col("thin"))

    def banner(self) -> str | None:
        """One line for the top of a report, or None when every planned episode is in."""
        if not self.partial:
            return None
        pct = 100 * self.ok / self.planned if self.planned else 0.0
        return (
            f"Partial sweep: {self.ok:,} of {self.planned:,} planned episodes committed ok "
            f"({pct:.1f}%), {self.failed:,} failed; {self.thin.height} of {self.cells.height} "
            f"cells are thin (under {THIN_SHARE:.0%} of their episodes). Numbers below cover "
            "the committed episodes only; see Coverage."
        )


def planned_cells(results_dir: str) -> pl.DataFrame | None:
    """One row per planned episode (``episode_id`` and the ``CELL`` columns), or None when the
    results dir has no manifest config to plan from."""
    text = ResultStore(results_dir).read_text(MANIFEST)
    manifest = (yaml.safe_load(text) or {}) if text else {}
    if not manifest.get("config"):
        return None
    from omegaconf import OmegaConf

    from sweep.config import build
    from sweep.plan import plan

    try:
        typed, _ = build(OmegaConf.create(manifest["config"]))
    except UserError:  # the stored config no longer builds: coverage is unknown, not wrong
        return None
    specs = plan(dataclasses.replace(typed, limit=None)).specs
    return pl.DataFrame(
        {
            "episode_id": [s.episode_id for s in specs],
            "block": [s.block for s in specs],
            "protocol": [s.protocol for s in specs],
            "model": [s.model.name for s in specs],
            "n_agents": [s.n_agents for s in specs],
            "roles": [s.roles for s in specs],
            "level": [s.level for s in specs],
        },
        schema_overrides={"n_agents": pl.Int32},
    )


def coverage(planned: pl.DataFrame, runs: pl.LazyFrame) -> Coverage:
    """``planned`` (``planned_cells``) against ``runs`` (committed rows, failed ones included;
    one status per episode: ok wins)."""
    status = (
        runs.group_by("episode_id").agg((pl.col("status") == "ok").any().alias("is_ok")).collect()
    )
    joined = planned.join(status, on="episode_id", how="left")
    cells = (
        joined.group_by(CELL)
        .agg(
            pl.len().alias("planned"),
            pl.col("is_ok").fill_null(False).sum().alias("ok"),
            (pl.col("is_ok") == False).fill_null(False).sum().alias("failed"),  # noqa: E712
        )
        .with_columns(share=pl.col("ok") / pl.col("planned"))
        .with_columns(thin=pl.col("share") < THIN_SHARE)
        .sort(CELL)
    )
    blocks = (
        cells.group_by("block", maintain_order=True)
        .agg(
            pl.len().alias("cells"),
            pl.col("planned").sum(),
            pl.col("ok").sum(),
            pl.col("failed").sum(),
            pl.col("thin").sum().alias("thin_cells"),
        )
        .with_columns(share=pl.col("ok") / pl.col("planned"))
    )
    return Coverage(
        cells,
        blocks,
        planned=int(cells["planned"].sum()),
        ok=int(cells["ok"].sum()),
        failed=int(cells["failed"].sum()),
    )


def of_results(results_dir: str) -> Coverage | None:
    """``coverage`` of ``results_dir`` read through ``analysis.load``; None without a plan."""
    from sweep.results.reader import load

    planned = planned_cells(results_dir)
    if planned is None:
        return None
    runs = load(results_dir, include_failed=True, plan_only=False).runs
    return coverage(planned, runs)


def sections(cov: Coverage) -> list[Section]:
    """The report's Coverage section: planned vs committed per block, then the thin cells."""
    thin = cov.thin.select(*CELL, "planned", "ok", "failed", "share")
    return [
        Section(
            "Coverage",
            "analysis.coverage.coverage(planned_cells(results_dir), runs)",
            f"Partial sweep: {cov.ok:,} of {cov.planned:,} planned episodes are committed ok "
            f"and {cov.failed:,} failed. Per block: its cells (block, protocol, model, N, "
            f"roles, level), planned, ok and failed episodes, and the thin cells (under "
            f"{THIN_SHARE:.0%} committed ok).",
            cov.blocks,
        ),
        Section(
            "Thin cells",
            "analysis.coverage.coverage(...).thin",
            f"Cells with under {THIN_SHARE:.0%} of their planned episodes committed ok; their "
            "means rest on few tasks.",
            thin,
            "every cell has at least half of its planned episodes",
            level=3,
        ),
    ]
