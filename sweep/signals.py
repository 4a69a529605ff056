"""SIGTERM handled like Ctrl-C: what ``ray job stop``, Slurm and Kubernetes send a driver.

Ray's core worker installs a C-level handler for SIGTERM in the driver when ``ray.init`` runs
(it prints ``*** SIGTERM received ...`` and exits 15, flushing nothing). ``handle_sigterm`` puts
a Python handler back, so a SIGTERM raises ``Terminated`` in the main thread: the same unwinding
as ``KeyboardInterrupt`` (what finished is flushed and committed, Ray started by orgsweep is shut
down), then the CLI exits 143 (128 + SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def handle_sigterm() -> None:
    """Raise ``Terminated`` on SIGTERM (from the main thread only, where Python allows it)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)
