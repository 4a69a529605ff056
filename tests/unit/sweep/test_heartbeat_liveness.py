"""Liveness: heartbeat.json while a launch runs, and running / stopped / finished from it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from sweep.execute import RunCounts as Progress
from sweep.heartbeat import STALE_AFTER_S, Heartbeat, live_line, live_state, liveness, read
from sweep.results.store import ResultStore


class Clock:
    t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_beats_while_running_then_records_how_it_ended(tmp_path: Path) -> None:
    store, clock = ResultStore(str(tmp_path)), Clock()
    hb = Heartbeat(store, total=10, every_s=5, clock=clock)
    beat = read(store)
    assert beat is not None and beat.state == "running" and beat.last_commit is None
    clock.t += 6
    hb.update(Progress(total=10, done=3), buffered=1)  # 2 committed: a commit happened
    beat = read(store)
    assert beat is not None and (beat.ok, beat.last_commit) == (3, clock.t)
    assert liveness(beat, clock.t) == "running"
    hb.close("finished")
    assert liveness(read(store), clock.t) == "finished"


def test_a_stale_or_dead_launch_reads_as_stopped(tmp_path: Path) -> None:
    store, clock = ResultStore(str(tmp_path)), Clock()
    Heartbeat(store, total=1, clock=clock)
    beat = read(store)
    assert beat is not None
    assert liveness(beat, clock.t + STALE_AFTER_S + 1) == "stopped"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = dataclasses.replace(beat, pid=int(dead.stdout))
    assert liveness(gone, clock.t) == "stopped"
    assert liveness(None, clock.t) == "unknown"


def test_status_words(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path))
    Heartbeat(store, total=1).close("stopped")
    s = live_state(store, pending=1)
    assert s["state"] == "stopped"
    assert live_line(s, "r").startswith(f"stopped since {s['since']} (")
    assert live_line(s, "r").endswith("; resume: orgsweep resume r")
    assert live_line({"state": "unknown"}, "r").startswith("state: unknown")
