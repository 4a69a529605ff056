"""Live progress for ``launch`` (rich): done / failed / pending, episodes/s, tokens/s, ETA."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class LiveProgress(AbstractContextManager["LiveProgress"]):
    def __init__(self, total: int, console: Console, enabled: bool = True):
        self.total = total
        self.enabled = enabled and total > 0
        self._bar = Progress(
            TextColumn("[bold]episodes"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not self.enabled,
        )
        self._task = self._bar.add_task("run", total=total, stats="")
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
        self._bar.update(self._task, completed=finished, stats=stats)
