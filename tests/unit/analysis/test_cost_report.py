"""The report's Cost section: spent against the estimate stored at launch, totals marked as
such, and the sim notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.cost_report import SIM_NOTICE, cost_table
from sweep.cli import main
from sweep.config import build, compose
from sweep.plan import plan
from sweep.plan_cost import store_estimate
from sweep.results.store import ResultStore
from sweep.spend import Planned, Spent
from tests.unit.analysis.test_report import run_in_process

SMALL = ["sweep=smoke", "sweep.limit=4"]


def test_cost_table_puts_each_part_beside_its_plan() -> None:
    s = Spent(1.5, 3.0, 10, 10, 1.0, 0.5, 2.0, 1.0, 0.25, 0.5)
    p = Planned(6.0, 7.5, 12.0, 1.2, "then", (), 4.0, 2.0, 8.0, 4.0)
    t = {r["part"]: r for r in cost_table(s, p).to_dicts()}
    assert t["agents"]["spent_total_gpu_h"] == 1.0 and t["agents"]["planned_total_gpu_h"] == 4.0
    assert t["judge"]["planned_total_usd"] == 4.0
    assert t["total"]["spent_total_gpu_h"] == pytest.approx(1.75)  # runs + rescore
    assert t["total"]["planned_total_usd"] == 12.0
    assert t["billed (scheduled deployment)"]["planned_total_gpu_h"] == 7.5
    unplanned = {r["part"]: r for r in cost_table(s, None).to_dicts()}
    assert unplanned["agents"]["planned_total_gpu_h"] is None and len(unplanned) == 4


def test_report_cost_section_on_sim_results(tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    run_in_process(res, SMALL)
    cfg = compose([f"results_dir={res}", *SMALL])
    typed, _ = build(cfg)
    store_estimate(ResultStore(res), cfg, typed, plan(typed), lambda _: None)
    assert main(["report", res]) == 0
    md = (Path(res) / "report" / "report.md").read_text()
    section = md[md.index("## Cost") :].split("\n## ")[0]
    assert SIM_NOTICE in section and "Totals (sums, no CI)" in section
    assert "plan_cost.json" in section and "| billed (scheduled deployment) |" in section
    assert "totals (*_total_*) carry no CI" in md
