"""Progress of ``launch``: a rich display on a terminal, plain lines every K seconds otherwise.

When stdout is not a terminal (``> log``, ``nohup``, ``ray job logs -f``) a rich live display
prints nothing until it stops, so ``LiveProgress`` then writes one plain line every
``every_s`` seconds (``launch --progress-every``): counts, rates, ETA and failures by kind.
Rates are episodes finished (ok or failed) per second since the launch started, the
definition ``orgsweep status`` uses for a running sweep (``sweep.heartbeat``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

DEFAULT_EVERY_S = 30.0


class _TwoLineProgress(Progress):
    """A progress bar with the counters on a line of their own, so both fit in 80 columns."""

    stats = ""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.stats:
            yield Text(self.stats, overflow="fold")


def kinds_text(kinds: Mapping[str, int], most: int = 2) -> str:
    """``timeout 3, connection 1 +2 kinds``: the commonest failure kinds, briefly."""
    top = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {n}" for k, n in top[:most])
    return text + (f" +{len(top) - most} kinds" if len(top) > most else "")


def plain_line(p: Any, elapsed: float) -> str:
    """One progress line of at most 80 columns (for up to a million episodes), and a second
    one with the failures by kind once there are any."""
    finished = p.done + p.failed
    rate = finished / max(elapsed, 1e-9)
    left = p.total - finished
    eta = f"ETA {_duration(left / rate)}" if rate > 0 and left else "ETA ?" if left else "done"
    line = (
        f"[{_duration(elapsed)}] {finished}/{p.total} ok {p.done} failed {p.failed} | "
        f"{rate:.3g} ep/s {_si(p.tokens / max(elapsed, 1e-9))} tok/s | {eta}"
    )
    kinds = getattr(p, "failed_kinds", None) or {}
    return line + (f"\n  failed by kind: {kinds_text(kinds, 3)}" if kinds else "")


def _si(x: float) -> str:
    return f"{x / 1e6:.1f}M" if x >= 1e6 else f"{x / 1e3:.1f}k" if x >= 1e3 else f"{x:.0f}"


def _duration(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class LiveProgress(AbstractContextManager["LiveProgress"]):
    def __init__(
        self,
        total: int,
        console: Console,
        enabled: bool = True,
        every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total
        self.enabled = enabled and total > 0
        self.plain = self.enabled and not console.is_terminal
        self.every_s = DEFAULT_EVERY_S if every_s is None else every_s
        self._console, self._clock = console, clock
        self._bar = _TwoLineProgress(
            TextColumn("[bold]episodes"),
            BarColumn(bar_width=30),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            disable=not self.enabled or self.plain,
        )
        self._task = self._bar.add_task("run", total=total)
        self._t0 = clock()
        self._last_line = self._t0
        self._last: Any = None

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
        if self.plain and self._last is not None:  # the final counts, whatever the period
            self._console.print(plain_line(self._last, self._clock() - self._t0), soft_wrap=True)

    def update(self, p: Any) -> None:
        now = self._clock()
        elapsed = max(now - self._t0, 1e-9)
        finished = p.done + p.failed
        self._last = p
        if self.plain:
            if now - self._last_line >= self.every_s:
                self._last_line = now
                self._console.print(plain_line(p, elapsed), highlight=False, soft_wrap=True)
                self._console.file.flush()
            return
        kinds = getattr(p, "failed_kinds", None) or {}
        # At most 80 columns up to 100,000s of episodes: compact rates, no thousands separators.
        self._bar.stats = (
            f"ok {p.done} failed {p.failed} pending {p.total - finished} | "
            f"in flight {p.in_flight}/{p.slots} | {finished / elapsed:.3g} ep/s "
            f"{_si(p.tokens / elapsed)} tok/s"
            + (f"\nfailed by kind: {kinds_text(kinds, 3)}" if kinds else "")
        )
        self._bar.update(self._task, completed=finished)
