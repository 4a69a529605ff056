"""``status --watch`` refreshes while the launch runs and stops once it has ended; ``--json``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import sweep.status_watch as sw
from sweep.heartbeat import Heartbeat
from sweep.results.store import MANIFEST, ResultStore


@pytest.fixture
def running(tmp_path: Path) -> tuple[str, Heartbeat]:
    store = ResultStore(str(tmp_path))
    store.write_text(MANIFEST, "sweep: smoke\noverrides: [sweep.limit=4]\n")
    return str(tmp_path), Heartbeat(store, total=4)


def test_watch_refreshes_until_the_launch_finishes(running, monkeypatch) -> None:
    res, beat = running
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 2:
            beat.close("finished")

    monkeypatch.setattr(sw.time, "sleep", sleep)
    con = Console(file=io.StringIO(), width=80)
    assert sw.status_cmd(res, con, watch_s=3.0) == 0
    assert sleeps == [3.0, 3.0]
    text = con.file.getvalue()  # type: ignore[attr-defined]
    # A pilot (sweep.limit=4) is counted against the whole stored sweep (issue 15).
    assert text.count("planned 48: ok 0, failed 0, pending 48") == 3
    assert text.count("running since ") == 2 and "finished at " in text


def test_json_has_counts_and_state(running, capsys: pytest.CaptureFixture[str]) -> None:
    res, _ = running
    assert sw.status_cmd(res, Console(file=io.StringIO()), as_json=True) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["planned"], s["ok"], s["pending"], s["state"], s["failures"]) == (
        48,
        0,
        48,
        "running",
        {},
    )
