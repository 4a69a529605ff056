"""The report's Cost section: what the sweep spent against the estimate stored at launch.

Spent: sums of the ``runs`` accounting columns and of ``orgsweep rescore``'s ``scores`` rows
(``sweep.spend.spent``; GPU-hours attributed from tokens, not measured). Planned: the launch's
``plan_cost.json`` (``sweep.spend.planned``). Every figure is a total over committed rows or of
the estimate, not an estimate from a sample: totals carry no CI. On the ``sim`` backend nothing
ran on a GPU, and the planned figures are what ``backend=vllm`` would take: not evidence.
"""

from __future__ import annotations

import polars as pl

from analysis._render import Section
from sweep.results.planned_cost import PLAN_COST
from sweep.results.store import ResultStore
from sweep.spend import Planned, Spent, planned, spent

SIM_NOTICE = (
    "Sim backend: no GPU served these runs and its reply lengths are synthetic; the planned "
    "figures are what backend=vllm would take. Sim cost figures are not evidence."
)


def cost_table(s: Spent, p: Planned | None) -> pl.DataFrame:
    """Per part: spent and planned GPU-hours of work and USD; the billed row is the plan's
    scheduled deployment (node up time, loads and idle included; its USD is the total's)."""

    def plan(field: str) -> float | None:
        return None if p is None else float(getattr(p, field))

    rows: list[tuple[str, float | None, float | None, float | None, float | None]] = [
        ("agents", s.agent_gpu_h, s.agent_usd, plan("agent_gpu_h"), plan("agent_usd")),
        ("judge", s.judge_gpu_h, s.judge_usd, plan("judge_gpu_h"), plan("judge_usd")),
        ("rescore", s.rescore_gpu_h, s.rescore_usd, None, None),
        (
            "total",
            s.gpu_h + s.rescore_gpu_h,
            s.usd + s.rescore_usd,
            plan("work_gpu_h"),
            plan("usd"),
        ),
    ]
    if p is not None and p.billed_gpu_h is not None:
        rows.append(("billed (scheduled deployment)", None, None, p.billed_gpu_h, None))
    schema = {"part": pl.String} | {c: pl.Float64 for c in COLUMNS}
    return pl.DataFrame(rows, schema=schema, orient="row")


COLUMNS = ("spent_total_gpu_h", "spent_total_usd", "planned_total_gpu_h", "planned_total_usd")


def cost_sections(results_dir: str, sim: bool) -> list[Section]:
    store = ResultStore(results_dir)
    s, p = spent(store), planned(store)
    plan = (
        f"planned: the estimate `orgsweep launch` stored in {PLAN_COST} ({p.written}), "
        "its scheduled deployment"
        if p is not None
        else f"no {PLAN_COST} in these results (launched before it was stored): spent only"
    )
    caption = (
        f"Totals (sums, no CI), GPU-hours and USD. Spent: sums over committed run steps "
        f"({s.steps_with_gpu} with GPU time, {s.steps_with_usd} with a price) and rescore "
        "rows, GPU time attributed from tokens (saturated replicas; docs/design/cost.md), USD "
        f"at list prices (hosted) or GPU-hour prices (served); {plan}. Spent work excludes "
        "load and idle time, which the billed row includes."
    )
    if sim or (p is not None and p.sim):
        caption = f"{SIM_NOTICE} {caption}"
    return [
        Section(
            "Cost",
            "analysis.cost_report.cost_table(spent(store), planned(store))",
            caption,
            cost_table(s, p),
        )
    ]
