"""Client-side admission: how many requests one client keeps in flight to one model endpoint.

An AIMD window, as in TCP congestion control. It opens at the engine's capacity (replicas x
``max_num_seqs``), halves when the server signals overload (429, 503) and grows back by about one
slot per window of successes. Requests beyond the window wait here, in FIFO order, instead of in
the engine's queue: engines stay full without preemption storms.

A burst of overload replies to requests sent under the same window halves it once, not once per
reply: each slot carries the window's epoch at admission and only a reply from the current epoch
may shrink it (TCP's "one decrease per round trip").
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass


class Signal(enum.Enum):
    """What a finished request tells the window."""

    OK = "ok"  # a reply: grow
    OVERLOAD = "overload"  # 429 / 503: shrink
    NEUTRAL = "neutral"  # any other failure: no information about load


@dataclass(frozen=True)
class Slot:
    epoch: int


class AdmissionWindow:
    """An asyncio semaphore whose size follows AIMD between ``floor`` and ``limit``."""

    def __init__(self, limit: int, *, floor: int = 1, decrease: float = 0.5):
        if limit < 1:
            raise ValueError(f"admission limit must be >= 1, got {limit}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease factor must be in (0, 1), got {decrease}")
        self.limit = limit
        self.floor = max(1, min(floor, limit))
        self.decrease = decrease
        self.window = float(limit)
        self.in_flight = 0
        self.peak = 0  # most requests ever in flight at once (for tests and stats)
        self.overloads = 0  # how many times the window shrank
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def capacity(self) -> int:
        """Requests admitted at once right now."""
        return max(self.floor, int(self.window))

    @property
    def load(self) -> float:
        """In-flight and waiting requests per slot (for least-loaded endpoint choice)."""
        return (self.in_flight + len(self._waiters)) / self.capacity

    async def acquire(self) -> Slot:
        """Wait for a slot (FIFO); release it with ``release``."""
        if self.in_flight < self.capacity and not self._waiters:
            return self._admit()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # admitted, then cancelled: give it back
                self.in_flight -= 1
                self._wake()
            raise
        return Slot(self._epoch)

    def release(self, slot: Slot, signal: Signal) -> None:
        self.in_flight -= 1
        if signal is Signal.OK:
            self.window = min(float(self.limit), self.window + 1.0 / self.window)
        elif signal is Signal.OVERLOAD and slot.epoch == self._epoch:
            self.window = max(float(self.floor), self.window * self.decrease)
            self._epoch += 1
            self.overloads += 1
        self._wake()

    def _admit(self) -> Slot:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return Slot(self._epoch)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.capacity:
            fut = self._waiters.popleft()
            if fut.done():  # its waiter was cancelled
                continue
            self._admit()
            fut.set_result(None)

    def __repr__(self) -> str:
        return (
            f"AdmissionWindow(capacity={self.capacity}, limit={self.limit}, "
            f"in_flight={self.in_flight}, waiting={len(self._waiters)})"
        )
