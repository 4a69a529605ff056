"""What a results directory has spent so far: attributed GPU-hours and USD (for ``status``)."""

from __future__ import annotations

from dataclasses import dataclass

from sweep.results.store import ResultStore


@dataclass(frozen=True)
class Spent:
    gpu_h: float  # sum of runs.gpu_s (attributed from tokens; see sweep.cost.attributed_gpu_s)
    usd: float  # sum of runs.cost_usd (hosted models' list prices)
    steps_with_gpu: int
    steps_with_usd: int


def spent(store: ResultStore) -> Spent:
    t = store.read_table("runs", ["gpu_s", "cost_usd"])
    gpu = [v for v in t.column("gpu_s").to_pylist() if v is not None] if t.num_rows else []
    usd = [v for v in t.column("cost_usd").to_pylist() if v is not None] if t.num_rows else []
    return Spent(sum(gpu) / 3600, sum(usd), len(gpu), len(usd))


def line(s: Spent) -> str | None:
    """One line for ``orgsweep status``, or None when nothing was served or bought."""
    if not s.steps_with_gpu and not s.steps_with_usd:
        return None
    return (
        f"spent: {s.gpu_h:,.2f} GPU-h of served models' work (attributed from tokens, "
        f"{s.steps_with_gpu} steps), USD {s.usd:,.2f} at hosted list prices "
        f"({s.steps_with_usd} steps); the plan's estimate: orgsweep plan with the same overrides"
    )
