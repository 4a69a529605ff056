"""Liveness of a launch: ``heartbeat.json`` in the results directory, and what ``status`` reads
from it.

While a launch runs it rewrites the file (atomically, at most every ``every_s`` seconds) with its
host, pid, start time, the time of its last commit and its counts; on the way out it records
``finished`` or ``stopped``. A reader calls the launch ``running`` while the file says so and is
fresh (and, on the same host, the pid is alive); a killed launch leaves a ``running`` file that
goes stale, which reads as ``stopped`` since its last update. Rates are episodes finished per
second since the launch started, as in the live display (``sweep.progress``), computed from the
committed rows' ``finished_at``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sweep.liveness import gone, this_host
from sweep.results.store import BufferedWriter, ResultStore

HEARTBEAT = "heartbeat.json"
STALE_AFTER_S = 60.0  # a running launch rewrites the file every few seconds


@dataclass(frozen=True)
class Beat:
    host: str
    pid: int
    started: float  # Unix seconds
    updated: float
    last_commit: float | None
    state: str  # running | finished | stopped
    total: int
    ok: int = 0
    failed: int = 0


class Heartbeat:
    """Writes ``heartbeat.json`` for one launch; ``update`` takes ``execute``'s progress."""

    def __init__(
        self,
        store: ResultStore,
        total: int,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        self.store, self.every_s, self.clock = store, every_s, clock
        now = clock()
        self.beat = Beat(this_host(), os.getpid(), now, now, None, "running", total)
        self._committed = 0
        self._written = float("-inf")
        self._write()

    def update(self, p: Any, buffered: int = 0) -> None:
        """Record ``p`` (done, failed); ``buffered``: finished episodes not committed yet."""
        now = self.clock()
        committed = p.done + p.failed - buffered
        last = now if committed > self._committed else self.beat.last_commit
        self._committed = max(committed, self._committed)
        self.beat = replace(self.beat, updated=now, last_commit=last, ok=p.done, failed=p.failed)
        if now - self._written >= self.every_s:
            self._write()

    def close(self, state: str) -> None:
        self.beat = replace(self.beat, updated=self.clock(), state=state)
        self._write()

    def _write(self) -> None:
        self._written = self.clock()
        self.store.write_text(HEARTBEAT, json.dumps(asdict(self.beat)))


@contextmanager
def beating(
    store: ResultStore, total: int, writer: BufferedWriter, on_progress: Callable[[Any], None]
) -> Iterator[Callable[[Any], None]]:
    """A progress callback that also beats; the heartbeat ends ``finished`` or ``stopped``."""
    beat = Heartbeat(store, total)

    def both(p: Any) -> None:
        on_progress(p)
        beat.update(p, writer.episodes_buffered)

    state = "stopped"
    try:
        yield both
        state = "finished"
    finally:
        beat.close(state)


def read(store: ResultStore) -> Beat | None:
    text = store.read_text(HEARTBEAT)
    if text is None:
        return None
    try:
        return Beat(**json.loads(text))
    except (ValueError, TypeError):
        return None


def liveness(beat: Beat | None, now: float, stale_after_s: float = STALE_AFTER_S) -> str:
    """``running``, ``stopped``, ``finished``, or ``unknown`` (no heartbeat: an older orgsweep)."""
    if beat is None:
        return "unknown"
    if beat.state != "running":
        return beat.state
    return "stopped" if gone(beat.host, beat.pid, beat.updated, now, stale_after_s) else "running"


def commit_rate(store: ResultStore, since: float) -> tuple[int, float] | None:
    """Episodes committed by the launch that started at ``since`` and their rate (episodes per
    second from its start to its latest commit); None before its first commit."""
    import polars as pl

    t = store.read_table("runs", ["episode_id", "finished_at"])
    if t.num_rows == 0:
        return None
    df = pl.from_arrow(t)
    assert isinstance(df, pl.DataFrame)
    start = datetime.fromtimestamp(since, UTC)
    mine = df.filter(pl.col("finished_at") >= start)
    if mine.is_empty():
        return None
    end = mine["finished_at"].max()
    span = (end - start).total_seconds()  # type: ignore[operator,union-attr]
    n = mine["episode_id"].n_unique()
    return (n, n / span) if span > 0 else None


def when(ts: float) -> str:
    """A Unix time as ``2026-12-02 01:23:45 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def live_state(store: ResultStore, pending: int, now: float | None = None) -> dict[str, Any]:
    """What ``status`` says about the launch: state, since when, host/pid, rate and ETA."""
    now = time.time() if now is None else now
    beat = read(store)
    state = liveness(beat, now)
    out: dict[str, Any] = {"state": state}
    if beat is None:
        return out
    out.update(host=beat.host, pid=beat.pid, started=when(beat.started))
    out["since"] = when(beat.started if state == "running" else beat.updated)
    out["last_commit"] = None if beat.last_commit is None else when(beat.last_commit)
    if state == "running" and (rate := commit_rate(store, beat.started)) is not None:
        n, eps = rate
        out.update(committed_by_launch=n, episodes_per_s=round(eps, 3))
        out["eta_s"] = round(pending / eps) if eps > 0 and pending else None
    return out


def live_line(s: dict[str, Any], results_dir: str) -> str:
    """``live_state`` in words (one line of at most about 80 columns)."""
    state = s["state"]
    if state == "unknown":
        return "state: unknown (no heartbeat.json: launched by an older orgsweep?)"
    who = f"{s['host']} pid {s['pid']}"
    if state == "finished":
        return f"finished at {s['since']} ({who})"
    if state == "stopped":
        return f"stopped since {s['since']} ({who}); resume: orgsweep resume {results_dir}"
    rate = ""
    if "episodes_per_s" in s:
        eta = f", ETA {s['eta_s'] / 60:.1f} min" if s.get("eta_s") else ""
        rate = f"; {s['episodes_per_s']:.2f} episodes/s since start{eta}"
    return f"running since {s['since']} ({who}){rate}"
