"""Leftover processes of a local Ray instance whose orgsweep driver was killed (``kill -9``).

A local Ray instance (``sweep.execute.start_ray``) fate-shares with its driver: GCS, raylet,
dashboard head and monitor die with it. Two processes the raylet starts do not at once: the
dashboard agent and the runtime-env agent notice the raylet's death immediately but first try
to report it to the GCS, which died too, and wait out Ray's fixed 60 s RPC timeout before they
exit (Ray 2.60; measured in docs/design/operability.md). A launch started meanwhile, e.g. the
resume after the kill, would share the machine with them.

So every Ray process a local launch starts carries ``MARK=<driver pid>`` in its environment, and
the next local launch stops, by pid, the Ray processes of this user whose marked driver is gone.
Linux only (``/proc``); elsewhere nothing is found. A process whose driver still runs (another
launch) is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from sweep.liveness import alive

MARK = "ORGSWEEP_LOCAL_RAY"


@contextlib.contextmanager
def marked() -> Iterator[None]:
    """Mark the Ray processes started inside the block (they inherit the environment)."""
    before = os.environ.get(MARK)
    os.environ[MARK] = str(os.getpid())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MARK, None)
        else:
            os.environ[MARK] = before


def leftovers(proc: Path = Path("/proc")) -> dict[int, int]:
    """pid -> driver pid of each Ray process of this user marked with a driver that is gone."""
    out = {}
    me, uid = os.getpid(), os.getuid()
    for entry in proc.glob("[0-9]*"):
        pid = int(entry.name)
        try:
            if pid == me or entry.stat().st_uid != uid:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone since the listing, or not ours to read
            continue
        mark = MARK.encode() + b"="
        driver = next((e[len(mark) :] for e in environ if e.startswith(mark)), b"")
        if not driver.isdigit() or not _is_ray(cmdline):
            continue
        if not alive(int(driver)):
            out[pid] = int(driver)
    return out


def stop_leftovers() -> list[int]:
    """SIGKILL every leftover (they are already on their way out); the pids stopped."""
    stopped = []
    for pid in leftovers():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            stopped.append(pid)
    return stopped


def _is_ray(cmdline: bytes) -> bool:
    """A Ray process: a worker or agent (``ray::Name``) or one of Ray's own programs."""
    return cmdline.startswith(b"ray::") or b"/ray/" in cmdline
