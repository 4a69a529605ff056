"""Seeded randomness for the task generator.

BLAKE2b of (key, counter), read as little-endian 32-bit words: cheap to seed once per task, and
unlike ``random.Random`` its output cannot change with the Python version, which matters because
task hashes enter episode ids.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
_WORDS = struct.Struct("<16I").unpack


class Draws:
    """Uniform random 32-bit integers: BLAKE2b(key, counter) read as 16 little-endian words."""

    __slots__ = ("_counter", "_i", "_key", "_words")

    def __init__(self, key: bytes):
        self._key = key
        self._counter = 0
        self._words: tuple[int, ...] = ()
        self._i = 16

    def bits(self) -> int:
        """32 random bits (callers slice one draw into several decisions)."""
        if self._i == 16:
            self._words = _WORDS(hashlib.blake2b(self._key + b"#%d" % self._counter).digest())
            self._counter += 1
            self._i = 0
        self._i += 1
        return self._words[self._i - 1]

    def below(self, n: int) -> int:
        return self.bits() % n

    def between(self, lo: int, hi: int) -> int:
        return lo + self.bits() % (hi - lo + 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.bits() % len(seq)]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct items (by position) in draw order; ``k`` must be <= ``len(seq)``."""
        picked: list[int] = []
        while len(picked) < k:
            i = self.bits() % len(seq)
            if i not in picked:
                picked.append(i)
        return [seq[i] for i in picked]


@functools.cache
def orders(size: int) -> tuple[tuple[int, ...], ...]:
    """64 fixed random orders of ``range(size)``: the j-th template of a kind a task uses is
    ``order[j]``, so no template repeats within a task."""
    draws = Draws(f"orders/{size}".encode())
    return tuple(tuple(draws.sample(range(size), size)) for _ in range(64))
