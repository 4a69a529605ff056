"""``orgsweep status``: done / failed / pending by cell, from the results directory alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from sweep.failures import failure_kinds, failure_lines
from sweep.heartbeat import live_line, live_state
from sweep.plan import plan
from sweep.results.reader import load
from sweep.results.scores import awaiting_judge
from sweep.results.store import ResultStore
from sweep.spend import as_json as cost_json
from sweep.spend import lines as cost_lines
from sweep.spend import planned as planned_cost
from sweep.spend import spent
from sweep.stored import stored_config


def status(results_dir: str, con: Console) -> dict[str, Any]:
    """Print the status of ``results_dir``; the same as data (``status --json``)."""
    stored = stored_config(results_dir)
    store = ResultStore(results_dir)
    # The stored plan is what analysis reads: after a pilot (sweep.limit) it is the whole plan.
    specs = list(plan(stored.compose()).specs)
    ids = store.read_plan()
    if ids is not None:
        keep = set(ids)
        specs = [s for s in specs if s.episode_id in keep]
    committed = store.committed()
    planned = {s.episode_id for s in specs}
    rows: Counter[tuple[str, str, str]] = Counter()
    for s in specs:
        c = committed.get(s.episode_id)
        state = "pending" if c is None or c.status == "damaged" else c.status  # re-run next
        rows[(s.block, s.protocol, state)] += 1
    t = Table(title=f"{stored.manifest.get('sweep', '?')} in {results_dir}")
    for col in ("block", "protocol", "planned", "ok", "failed", "pending"):
        t.add_column(col, justify="left" if col in ("block", "protocol") else "right")
    cells = sorted({(b, pr) for b, pr, _ in rows})
    for b, pr in cells:
        ok, failed, pending = (rows[(b, pr, k)] for k in ("ok", "failed", "pending"))
        t.add_row(b, pr, str(ok + failed + pending), str(ok), str(failed), str(pending))
    con.print(t)
    n_ok = sum(1 for e in planned if e in committed and committed[e].status == "ok")
    n_failed = sum(1 for e in planned if e in committed and committed[e].status == "failed")
    stale = len(set(committed) - planned)
    pending = len(planned) - n_ok - n_failed
    con.print(
        f"planned {len(planned)}: ok {n_ok}, failed {n_failed}, "
        f"pending {pending}; stale (not in plan) {stale}"
    )
    judging = awaiting_judge(load(results_dir, plan_only=False).runs)
    if judging:
        con.print(
            f"awaiting the judge: {judging} run steps (cost.judge=deferred); the next "
            "`orgsweep launch` judges them without re-running any agent",
            markup=False,
            highlight=False,
        )
    live = live_state(store, pending)
    con.print(live_line(live, results_dir), markup=False, highlight=False)
    money = spent(store), planned_cost(store)
    for line in cost_lines(*money):
        con.print(line, markup=False, highlight=False)
    kinds = failure_kinds(results_dir, planned)
    for line in failure_lines(kinds, results_dir, con.width):
        con.print(line, markup=False, highlight=False)
    return {
        "sweep": stored.manifest.get("sweep"),
        "results_dir": results_dir,
        "planned": len(planned),
        **{"ok": n_ok, "failed": n_failed, "pending": pending, "stale": stale},
        "awaiting_judge": judging,
        "failures": {k.kind: {"count": k.count, "example": k.example_error} for k in kinds},
        **live,
        "cost": cost_json(*money),
    }
