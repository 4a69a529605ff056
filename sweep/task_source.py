"""Where a sweep's tasks come from: config group ``tasks`` (``conf/tasks/``).

- ``tasks=generated`` (default): orgsweep's generator, seeded by the top-level ``seed``; each
  block gets its own tasks (namespace = block name).
- ``tasks=file tasks.path=FILE``: the user's JSONL or Parquet file (the columns of
  ``orgsweep tasks export``). For each block and level, ``plan()`` draws ``tasks_per_cell x
  steps`` different tasks of that level from the file: with ``tasks.shuffle=true`` (default) a
  sample seeded by (seed, block name, level) that does not depend on line order, else the first
  ones in file order. Blocks draw independently, so two blocks may share tasks. A file with fewer
  tasks of a level than a block needs is a config error that gives both counts.

The file is read and checked when the config is built (``orgsweep validate`` reports a bad file),
so planning stays pure. Relative paths are relative to the working directory; ``resume``,
``status`` and ``rescore`` rebuild the plan from the stored config, so they need the same file
at the same path (an absolute path is safest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.tasks import LEVELS, Task, TaskFileError, draw_tasks, generate_tasks, load_tasks

if TYPE_CHECKING:
    from sweep.config import Block

SOURCES = ("generated", "file")
_KEYS = ("source", "path", "shuffle")


@dataclass(frozen=True)
class TaskSource:
    source: str = "generated"
    path: str = ""
    shuffle: bool = True
    by_level: Mapping[str, tuple[Task, ...]] = field(default_factory=dict, compare=False)


def build_source(
    raw: Mapping[str, Any], blocks: Sequence[Block], problems: list[str]
) -> TaskSource:
    """The typed source; appends a problem for a bad key, a bad file or too few tasks."""
    for k in sorted(set(raw) - set(_KEYS)):
        problems.append(f"tasks: unknown key {k!r}; valid: {', '.join(_KEYS)}")
    source = raw.get("source", "generated")
    if source not in SOURCES:
        problems.append(f"tasks.source={source!r}; valid: {', '.join(SOURCES)}")
        return TaskSource()
    shuffle = raw.get("shuffle", True)
    if not isinstance(shuffle, bool):
        problems.append(f"tasks.shuffle={shuffle!r} must be true or false")
        shuffle = True
    if source == "generated":
        return TaskSource()
    path = raw.get("path")
    if not path:
        problems.append("tasks=file needs tasks.path=FILE (a .jsonl or .parquet task file)")
        return TaskSource()
    try:
        tasks = load_tasks(str(path))
    except TaskFileError as e:
        problems.append(f"tasks.path: {e}")
        return TaskSource()
    by_level = {lv: tuple(t for t in tasks if t.level == lv) for lv in LEVELS}
    for b in blocks:
        need = b.tasks_per_cell * b.steps
        for lv in b.levels:
            have = len(by_level[lv])
            if have < need:
                problems.append(
                    f"tasks.path={path} has {have} {lv} task(s); block {b.name!r} needs {need} "
                    f"(tasks_per_cell {b.tasks_per_cell} x steps {b.steps}): add {lv} tasks or "
                    "lower tasks_per_cell"
                )
    return TaskSource("file", str(path), shuffle, by_level)


def block_tasks(source: TaskSource, seed: int, block: Block, level: str) -> list[Task]:
    """The ``tasks_per_cell x steps`` tasks of ``level`` every cell of ``block`` shares."""
    n = block.tasks_per_cell * block.steps
    if source.source == "generated":
        return generate_tasks(seed, level, n, namespace=block.name)
    pool = source.by_level.get(level, ())
    if len(pool) < n:  # build_source reports this first; kept for direct callers
        from sweep.errors import UserError

        raise UserError(
            f"tasks.path={source.path} has {len(pool)} {level} task(s); block "
            f"{block.name!r} needs {n}"
        )
    return draw_tasks(pool, n, seed=seed, namespace=f"{block.name}/{level}", shuffle=source.shuffle)
