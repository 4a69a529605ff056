"""Issue 16 item 1: plain progress lines every K seconds when stdout is not a terminal."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console

from sweep.execute import RunCounts as Progress
from sweep.progress import LiveProgress, kinds_text, plain_line


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run(console: Console, enabled: bool = True) -> list[str]:
    clock = Clock()
    p = Progress(total=10)
    with LiveProgress(10, console, enabled=enabled, every_s=5, clock=clock) as live:
        for step in range(1, 11):
            clock.t += 1.0
            p.done = step
            live.update(p)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue().splitlines()


def test_a_line_every_k_seconds_then_the_final_counts() -> None:
    lines = run(Console(file=io.StringIO(), width=80, force_terminal=False))
    assert lines == [
        "[0m05s] 5/10 ok 5 failed 0 | 1 ep/s 0 tok/s | ETA 0m05s",
        "[0m10s] 10/10 ok 10 failed 0 | 1 ep/s 0 tok/s | done",
        "[0m10s] 10/10 ok 10 failed 0 | 1 ep/s 0 tok/s | done",
    ]


def test_no_progress_silences_the_lines() -> None:
    assert run(Console(file=io.StringIO(), width=80, force_terminal=False), enabled=False) == []


def test_a_terminal_gets_the_rich_display_not_plain_lines() -> None:
    lines = run(Console(file=io.StringIO(), width=80, force_terminal=True))
    assert not any(line.startswith("[0m") for line in lines)
    assert any("episodes" in line for line in lines)


def test_line_shows_failures_by_kind_within_80_columns() -> None:
    p = Progress(total=1_000_000, done=412_345, failed=1_234, tokens=98_765_432)
    p.failed_kinds = Counter({"timeout": 1_000, "connection": 200, "rate_limit": 34})
    line = plain_line(p, 3_725.0)
    assert line.splitlines() == [
        "[1h02m] 413579/1000000 ok 412345 failed 1234 | 111 ep/s 26.5k tok/s | ETA 1h28m",
        "  failed by kind: timeout 1000, connection 200, rate_limit 34",
    ]
    assert max(len(x) for x in line.splitlines()) <= 80
    assert kinds_text({"a": 1, "b": 3, "c": 2}, 2) == "b 3, c 2 +1 kinds"


def test_the_rich_counters_fit_80_columns_for_a_large_sweep() -> None:
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
    clock = Clock()
    p = Progress(total=222_400, done=123_456, failed=1_234, tokens=987_654_321)
    p.in_flight, p.slots = 512, 512
    p.failed_kinds = Counter({"timeout": 1_000, "connection": 234})
    with LiveProgress(p.total, console, clock=clock) as live:
        clock.t += 3_600
        live.update(p)
    assert isinstance(console.file, io.StringIO)
    text = console.file.getvalue()
    assert (
        "ok 123456 failed 1234 pending 97710 | in flight 512/512 | 34.6 ep/s 274.3k tok/s" in text
    )
    assert "failed by kind: timeout 1000, connection 234" in text
    lines = [x for x in text.splitlines() if x.startswith(("ok ", "failed by"))]
    assert lines and all(len(x) <= 80 for x in lines)
