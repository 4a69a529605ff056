"""What a results directory has spent so far, against the plan stored at launch.

``spent`` sums the ``runs`` accounting columns (agent and judge parts; attributed from tokens,
``sweep.cost.attributed_cost``; a deferred judge's pass, the ``scores`` set ``default``, counts
in the judge part) and the ``scores`` rows of ``orgsweep rescore``; ``planned``
reads ``plan_cost.json`` (``sweep.results.planned_cost``); ``lines`` is what ``orgsweep status``
prints, ``as_json`` its ``--json`` part. See docs/design/cost.md "Accounting".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sweep.results.planned_cost import PLAN_COST, read_plan_cost
from sweep.results.scores import DEFAULT
from sweep.results.store import ResultStore

_RUNS = ["gpu_s", "cost_usd", "agent_gpu_s", "judge_gpu_s", "agent_cost_usd", "judge_cost_usd"]


@dataclass(frozen=True)
class Spent:
    gpu_h: float  # sum of runs.gpu_s: served models' busy time the steps account for
    usd: float  # sum of runs.cost_usd (hosted list prices + attributed GPU time at GPU prices)
    steps_with_gpu: int
    steps_with_usd: int
    agent_gpu_h: float = 0.0  # parts: 0 in results written before the split columns
    judge_gpu_h: float = 0.0
    agent_usd: float = 0.0
    judge_usd: float = 0.0
    rescore_gpu_h: float = 0.0  # orgsweep rescore's judges (scores table)
    rescore_usd: float = 0.0


@dataclass(frozen=True)
class Planned:
    """The launch's estimate (``orgsweep plan --json`` ``cost``) in the figures compared."""

    work_gpu_h: float
    billed_gpu_h: float | None  # scheduled deployment; None when nothing is self-hosted
    usd: float
    makespan_h: float | None
    written: str
    notes: tuple[str, ...]
    agent_gpu_h: float = 0.0  # work, by part (the estimate's per-model rows)
    judge_gpu_h: float = 0.0
    agent_usd: float = 0.0  # billed share (self-hosted) or list prices (hosted), by part
    judge_usd: float = 0.0

    @property
    def sim(self) -> bool:
        """Planned for a sim sweep: the figures are what a served backend would take."""
        return any(n.startswith("sim backend") for n in self.notes)


def _sum(t: pa.Table, col: str) -> tuple[float, int]:
    if not t.num_rows or col not in t.column_names:
        return 0.0, 0
    vals = [v for v in t.column(col).to_pylist() if v is not None]
    return float(sum(vals)), len(vals)


def spent(store: ResultStore) -> Spent:
    t = store.read_table("runs", _RUNS)
    s = store.read_table("scores", ["score_set", "judge_gpu_s", "judge_cost_usd"])
    own = pc.equal(s.column("score_set"), DEFAULT) if s.num_rows else None
    mine, others = (s.filter(own), s.filter(pc.invert(own))) if own is not None else (s, s)
    (gpu, n_gpu), (usd, n_usd) = _sum(t, "gpu_s"), _sum(t, "cost_usd")
    ag, jg, au, ju = (_sum(t, c)[0] for c in _RUNS[2:])
    dg, du = _sum(mine, "judge_gpu_s")[0], _sum(mine, "judge_cost_usd")[0]  # deferred pass
    rg, ru = _sum(others, "judge_gpu_s")[0], _sum(others, "judge_cost_usd")[0]
    return Spent(
        (gpu + dg) / 3600,
        usd + du,
        n_gpu,
        n_usd,
        ag / 3600,
        (jg + dg) / 3600,
        au,
        ju + du,
        rg / 3600,
        ru,
    )


def planned(store: ResultStore) -> Planned | None:
    rec = read_plan_cost(store)
    if rec is None:
        return None
    c = rec["cost"]
    sched = c.get("scheduled") or {}
    rows = c.get("models", [])

    def part(name: str, key: str) -> float:
        return float(sum(m.get(key) or 0.0 for m in rows if m.get("part") == name))

    return Planned(
        float(c["total"]["gpu_h"]),
        sched.get("billed_gpu_h"),
        float(c["total"]["usd"]),
        sched.get("makespan_h"),
        str(rec.get("written", "")),
        tuple(c.get("notes", ())),
        part("agents", "gpu_s") / 3600,
        part("judge", "gpu_s") / 3600,
        part("agents", "usd"),
        part("judge", "usd"),
    )


def lines(s: Spent, p: Planned | None) -> list[str]:
    """``orgsweep status``'s cost lines; none when nothing was served or bought and no plan."""
    out = []
    if s.steps_with_gpu or s.steps_with_usd:
        out.append(
            f"spent: {s.gpu_h:,.2f} GPU-h of served models' work (agents {s.agent_gpu_h:,.2f}, "
            f"judge {s.judge_gpu_h:,.2f}; attributed from tokens, {s.steps_with_gpu} steps), "
            f"USD {s.usd:,.2f} (agents {s.agent_usd:,.2f}, judge {s.judge_usd:,.2f}; "
            f"{s.steps_with_usd} steps)"
        )
    if s.rescore_gpu_h or s.rescore_usd:
        out.append(f"spent by rescore: {s.rescore_gpu_h:,.2f} GPU-h, USD {s.rescore_usd:,.2f}")
    if p is not None:
        billed = "" if p.billed_gpu_h is None else f", {p.billed_gpu_h:,.1f} GPU-h billed"
        done = f"; spent {_share(s.gpu_h, p.work_gpu_h)} of the work" if s.steps_with_gpu else ""
        out.append(
            f"planned at launch ({PLAN_COST}, {p.written}): {p.work_gpu_h:,.2f} GPU-h of "
            f"work{billed}, USD {p.usd:,.2f}{done}"
        )
        if p.sim:
            out.append("  (sim backend: these figures are what backend=vllm would take)")
    return out


def _share(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "-"


def as_json(s: Spent, p: Planned | None) -> dict[str, Any]:
    return {"spent": asdict(s), "planned": None if p is None else asdict(p)}
