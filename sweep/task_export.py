"""``orgsweep tasks export``: write generated tasks to a JSONL or Parquet task file.

The file has the columns a ``tasks=file`` source reads, so it is also the template for bringing
your own tasks. ``--n`` tasks are split evenly over ``--levels`` (earlier levels get the
remainder); the same (seed, namespace) always gives the same file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from agents.tasks import LEVELS, TaskFileError, generate_tasks, write_tasks
from agents.tasks.files import task_format
from sweep.errors import UserError


@dataclass(frozen=True)
class Exported:
    path: str
    by_level: dict[str, int]
    generate_s: float
    write_s: float


def parse_levels(text: str) -> tuple[str, ...]:
    levels = tuple(x.strip().upper() for x in text.split(",") if x.strip())
    bad = [x for x in levels if x not in LEVELS]
    if bad or not levels or len(set(levels)) != len(levels):
        raise UserError(f"--levels {text!r}: give distinct levels from {', '.join(LEVELS)}")
    return levels


def export(
    n: int, out: str, *, seed: int = 0, levels: Sequence[str] = LEVELS, namespace: str = ""
) -> Exported:
    if n < 1:
        raise UserError(f"--n {n}: give a number of tasks >= 1")
    try:
        task_format(out)
    except TaskFileError as e:
        raise UserError(str(e)) from None
    counts = {lv: n // len(levels) + (i < n % len(levels)) for i, lv in enumerate(levels)}
    t0 = time.perf_counter()
    tasks = [
        t for lv, k in counts.items() for t in generate_tasks(seed, lv, k, namespace=namespace)
    ]
    t1 = time.perf_counter()
    try:
        write_tasks(tasks, out)
    except OSError as e:
        raise UserError(f"cannot write {out}: {e}") from None
    return Exported(out, counts, t1 - t0, time.perf_counter() - t1)
