"""A block-level prefix cache as vLLM's automatic prefix caching (APC) keeps one.

A prompt's tokens are cut into blocks of ``BLOCK`` (16) tokens; block i's hash chains the hash
of block i-1 with its own tokens, so two prompts share block i only if they agree on every token
up to its end. Only full blocks are hashed; a partial last block and generated tokens take
anonymous blocks that nothing else can reuse.

``BlockPool`` holds ``n_blocks``. A block is *held* while a running sequence references it
(shared blocks count once, however many sequences hold them) and *cached* once no sequence does:
it stays reusable until the pool needs room, then the least recently released goes first (LRU;
a sequence releases its blocks last-to-first, so a prompt's tail is evicted before its head, as
vLLM's free-block queue does). The engine model (``bench/sim_engine.py``) and the offline figure
(``bench/prefix_figure.py``) share this class.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence

BLOCK = 16


def block_hashes(tokens: Sequence[int], block: int = BLOCK) -> list[int]:
    """Chained hashes of the full blocks of ``tokens`` (deterministic across processes)."""
    out: list[int] = []
    h = 0
    for i in range(0, len(tokens) - block + 1, block):
        h = hash((h, *tokens[i : i + block]))
        out.append(h)
    return out


def chat_text(messages: Iterable[tuple[str, str]]) -> str:
    """A chat template's rendering (role markers around each message), as servers tokenize it."""
    return "".join(f"<|{role}|>\n{content}<|end|>\n" for role, content in messages)


def char_tokens(text: str, width: int = 4) -> list[int]:
    """A stand-in tokenizer: one token per ``width`` characters (orgsweep's token estimate), so a
    shared text prefix gives a shared token prefix, as BPE nearly always does."""
    data = text.encode()
    return [zlib.crc32(data[i : i + width]) for i in range(0, len(data), width)]


class BlockPool:
    """``n_blocks`` KV blocks: held (referenced), cached (unreferenced, LRU) or free."""

    def __init__(self, n_blocks: int):
        self.n_blocks = n_blocks
        self.ref: dict[int, int] = {}  # every hashed block in the pool -> running references
        self.lru: OrderedDict[int, None] = OrderedDict()  # hashed blocks with 0 refs, oldest first
        self.held = 0  # blocks referenced by running sequences (hashed once each + anonymous)
        self.evictions = 0

    @property
    def free(self) -> int:
        """Blocks a new allocation may take: never-used ones plus evictable cached ones."""
        return self.n_blocks - self.held

    def cached_prefix(self, hashes: Sequence[int]) -> int:
        """How many leading blocks of ``hashes`` the pool holds or caches."""
        k = 0
        for h in hashes:
            if h not in self.ref:
                break
            k += 1
        return k

    def cost(self, hashes: Sequence[int], hits: int, anonymous: int) -> int:
        """Free blocks an ``acquire`` of this shape would take."""
        revived = sum(1 for h in hashes[:hits] if self.ref[h] == 0)
        return revived + len(hashes) - hits + anonymous

    def acquire(self, hashes: Sequence[int], hits: int, anonymous: int) -> None:
        """Reference the first ``hits`` blocks (cached), allocate the rest of ``hashes`` (cached
        as soon as allocated, as vLLM v1 does) and ``anonymous`` unhashed blocks. The caller has
        checked ``cost() <= free``."""
        for h in hashes[:hits]:
            if self.ref[h] == 0:
                del self.lru[h]
                self.held += 1
            self.ref[h] += 1
        for h in hashes[hits:]:
            self._room()
            self.ref[h] = 1
            self.held += 1
        self.grow(anonymous)

    def grow(self, anonymous: int) -> None:
        """Allocate ``anonymous`` unhashed blocks (a prompt's tail, generated tokens)."""
        for _ in range(anonymous):
            self._room()
            self.held += 1

    def release(self, hashes: Sequence[int], anonymous: int) -> None:
        """Drop a sequence's references; its hashed blocks stay cached, tail first in line."""
        self.held -= anonymous
        for h in reversed(hashes):
            self.ref[h] -= 1
            if self.ref[h] == 0:
                self.held -= 1
                self.lru[h] = None

    def _room(self) -> None:
        if self.held + len(self.lru) >= self.n_blocks:
            if not self.lru:
                raise RuntimeError("block pool exhausted: the caller must check free first")
            old, _ = self.lru.popitem(last=False)
            del self.ref[old]
            self.evictions += 1
