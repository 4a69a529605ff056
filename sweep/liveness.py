"""Is the process that wrote a record still there? Shared by the writer lease (``sweep.lease``),
the heartbeat (``sweep.heartbeat``) and the Ray leftovers (``sweep.ray_leftovers``).

A record names its writer's host and pid and when it was last renewed. On the writer's host its
pid answers at once (a ``kill -9`` reads as gone immediately); from another host only age can
tell, so a record not renewed for ``stale_s`` seconds is gone too (also a frozen writer).
"""

from __future__ import annotations

import os
import socket


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def this_host() -> str:
    return socket.gethostname()


def gone(host: str, pid: int, renewed: float, now: float, stale_s: float) -> bool:
    """The writer ``pid`` on ``host``, last renewed at ``renewed`` (epoch s), is gone."""
    if host == this_host() and not alive(pid):
        return True
    return now - renewed > stale_s
