"""Benchmark 3, resume planning: what ``orgsweep launch`` does before the first episode runs.

The ``paper`` sweep is planned (22,400 episodes, 25,000 task runs: a task run is one ``runs``
row) and its first 24,000 task runs (21,400 episodes, in plan order) are written as committed
``runs`` rows with the real schema through ``ResultStore.write_part``, in two layouts: 24 parts of
1,000 rows (what a long sweep's ``BufferedWriter`` leaves) and 2,400 parts of 10 rows (many small
commits); ``--layouts`` adds others (``24000x1``: one part per task run).

Each repeat is a fresh Python process (nothing warm but the OS page cache) that times, as
``sweep/launch.py::launch`` does them: importing the planner, Hydra compose, ``build``,
``plan``, then per layout ``ResultStore.committed()`` and the set difference (the pending work
list and the stale-episode check). Total = import + compose + build + plan + committed + diff.

Run: ``python -m bench resume`` (3 repeats; the synthetic results go to a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.common import fmt, record, say, stats, uptime_line

COMMITTED_RUNS = 24_000


def _layouts(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        parts, rows = item.lower().split("x")
        out.append((int(parts), int(rows)))
    return out


def _template_row() -> dict[str, Any]:
    """A real ``runs`` row: one smoke episode on the sim backend."""
    import asyncio

    from agents.backends.sim import SimBackend
    from sweep.config import build, compose
    from sweep.episode import run_episode
    from sweep.plan import plan

    typed, _ = build(compose(["sweep.limit=1"]))
    rows = asyncio.run(run_episode(plan(typed).specs[0], SimBackend()))
    row = dict(rows.runs[0])
    row.update(backend="sim", node="bench")
    return row


def synthesize(root: str, specs: Sequence[Any], layout: tuple[int, int], runs: int) -> int:
    """Write ``runs`` committed task runs of ``specs`` (in order) as ``parts`` x ``rows``."""
    from sweep.episode import spec_columns
    from sweep.results.store import ResultStore

    template = _template_row()
    rows: list[dict[str, Any]] = []
    for spec in specs:
        for step in range(spec.steps):
            rows.append(
                {
                    **template,
                    "episode_id": spec.episode_id,
                    "attempt": 1,
                    "step": step,
                    **spec_columns(spec, step),
                }
            )
        if len(rows) >= runs:
            break
    rows = rows[:runs]  # whole episodes: the plan's prefix ends on an episode boundary here
    import pyarrow as pa

    from sweep.results.schema import TABLES

    n_parts, per = layout
    per = max(per, -(-len(rows) // n_parts))
    for i, r in enumerate(rows):  # one commit (batch id) per part, as BufferedWriter does
        r["batch"] = f"{i // per:020d}-bench"
    table = pa.Table.from_pylist(rows, schema=TABLES["runs"])
    store = ResultStore(root)
    for i in range(0, len(rows), per):
        store.write_part("runs", table.slice(i, per))
    return len(store.parts("runs"))


def worker(dirs: Sequence[str]) -> dict[str, Any]:
    """Time what launch does before running anything (in this fresh process)."""
    out: dict[str, Any] = {}
    t = time.perf_counter()
    from sweep.config import build, compose
    from sweep.launch import pending
    from sweep.plan import plan
    from sweep.results.store import ResultStore

    out["import_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cfg = compose(["sweep=paper"])
    out["compose_s"] = time.perf_counter() - t
    t = time.perf_counter()
    typed, _ = build(cfg)
    out["build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    p = plan(typed)
    out["plan_s"] = time.perf_counter() - t
    out["planned"] = len(p.specs)
    out["planned_runs"] = sum(s.steps for s in p.specs)
    for d in dirs:
        key = os.path.basename(d)
        t = time.perf_counter()
        committed = ResultStore(d).committed()
        out[f"{key}.committed_s"] = time.perf_counter() - t
        t = time.perf_counter()
        work = pending(p.specs, committed)
        stale = len(set(committed) - set(p.ids))
        out[f"{key}.diff_s"] = time.perf_counter() - t
        out[f"{key}.committed"] = len(committed)
        out[f"{key}.pending"] = len(work)
        out[f"{key}.stale"] = stale
        plan_total = out["import_s"] + out["compose_s"] + out["build_s"] + out["plan_s"]
        out[f"{key}.total_s"] = plan_total + out[f"{key}.committed_s"] + out[f"{key}.diff_s"]
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench resume", description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=COMMITTED_RUNS, help="committed task runs")
    ap.add_argument("--layouts", default="24x1000,2400x10", help="PARTSxROWS,...")
    ap.add_argument(
        "--real",
        action="append",
        default=[],
        help="also time committed() over this existing results directory",
    )
    ap.add_argument("--workdir", default=None, help="where to synthesize (default: a temp dir)")
    ap.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return 0

    from sweep.config import build, compose
    from sweep.plan import plan

    say(f"resume: paper plan, {args.runs} committed task runs; {uptime_line()}")
    typed, _ = build(compose(["sweep=paper"]))
    specs = plan(typed).specs
    base = args.workdir or tempfile.mkdtemp(prefix="orgsweep-bench-resume-")
    dirs, layouts = [], _layouts(args.layouts)
    try:
        for layout in layouts:
            d = os.path.join(base, f"{layout[0]}x{layout[1]}")
            shutil.rmtree(d, ignore_errors=True)
            t = time.perf_counter()
            n = synthesize(d, specs, layout, args.runs)
            say(f"  wrote {n} parts into {d} in {time.perf_counter() - t:.1f} s")
            dirs.append(d)
        dirs += [os.path.abspath(r) for r in args.real]
        reps = []
        for r in range(args.repeats):
            load = os.getloadavg()[0]
            res = subprocess.run(
                [sys.executable, "-m", "bench", "resume", "--worker", *dirs],
                capture_output=True,
                text=True,
                check=True,
                cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            )
            rep = json.loads(res.stdout.strip().splitlines()[-1])
            rep["load_before"] = load
            reps.append(rep)
            timings = ", ".join(
                f"{k} committed {rep[k + '.committed_s']:.2f} s"
                for k in map(os.path.basename, dirs)
            )
            say(f"  [{r}] plan {rep['plan_s']:.2f} s, {timings}; load {load:.2f}")
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    keys = ["import_s", "compose_s", "build_s", "plan_s"]
    for d in dirs:
        k = os.path.basename(d)
        keys += [f"{k}.committed_s", f"{k}.diff_s", f"{k}.total_s"]
    summary = {k: stats(r[k] for r in reps) for k in keys}
    say(f"resume, medians (min-max) of {args.repeats} fresh processes; {uptime_line()}")
    say(f"  planned {reps[0]['planned']} episodes ({reps[0]['planned_runs']} task runs)")
    for k in ("import_s", "compose_s", "build_s", "plan_s"):
        say(f"  {k[:-2]:10s} {fmt(summary[k], 's')}")
    for d in dirs:
        k = os.path.basename(d)
        say(
            f"  {k:10s} committed() {fmt(summary[k + '.committed_s'], 's')} "
            f"({reps[0][k + '.committed']} episodes), set difference "
            f"{fmt(summary[k + '.diff_s'], 's')} ({reps[0][k + '.pending']} pending); "
            f"total {fmt(summary[k + '.total_s'], 's')}"
        )
    path = record(
        "resume",
        {"params": vars(args), "summary": summary, "runs": reps, "load_end": uptime_line()},
    )
    say(f"appended to {path}")
    return 0
