"""Live progress for ``launch`` (rich): done / failed / pending, episodes/s, tokens/s, ETA."""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text


class _TwoLineProgress(Progress):
    """A progress bar with the counters on a line of their own, so both fit in 80 columns."""

    stats = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.stats:
            yield Text(self.stats, overflow="fold")


class LiveProgress(AbstractContextManager["LiveProgress"]):
    def __init__(self, total: int, console: Console, enabled: bool = True):
        self.total = total
        self.enabled = enabled and total > 0
        self._bar = _TwoLineProgress(
            TextColumn("[bold]episodes"),
            BarColumn(bar_width=30),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not self.enabled,
        )
        self._task = self._bar.add_task("run", total=total)
        self._t0 = time.monotonic()

    def __enter__(self) -> LiveProgress:
        self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.__exit__(exc_type, exc, tb)

    def update(self, p: Any) -> None:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        finished = p.done + p.failed
        stats = (
            f"ok {p.done} | failed {p.failed} | pending {p.total - finished} | "
            f"in flight {p.in_flight}/{p.slots} | "
            f"{p.done / elapsed:.1f} ep/s | {p.tokens / elapsed:,.0f} tok/s"
        )
        self._bar.stats = stats
        self._bar.update(self._task, completed=finished)
