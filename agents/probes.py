"""Bias probes: controlled changes of a stored deliverable (``orgsweep probe``).

Each transform is a pure function of (deliverable text, seed) and keeps the deliverable's
format (``agents.deliverable``: contributions headed ``### <role> (agent <i>)``, joined by a
blank line). What each one expects of a sound judge, and the tolerance, are in
docs/design/judge-reliability.md:

- ``pad``: neutral filler (no claim, no requirement, no action) as long as the text, appended
  to the last contribution: the same content, twice the length;
- ``shuffle``: the contributions in another order;
- ``anonymise``: each header becomes ``### Contribution``, other "agent <i>" mentions
  "a contributor": no agent number, no role;
- ``duplicate``: one contribution repeated at the end;
- ``truncate``: the last third of the characters cut (a sound judge scores completeness lower).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

_HEADER = re.compile(r"^### .*$", re.M)
_AGENT = re.compile(r"\b[Aa]gent \d+\b")
FILLER = (
    "This paragraph restates the context of the work above for readers who join late; it adds "
    "no new claim, requirement, owner, step or deadline. "
)


def contributions(text: str) -> list[str]:
    """The deliverable's contributions, each with its header (any preamble is the first)."""
    return [c.strip("\n") for c in re.split(r"(?m)^(?=### )", text) if c.strip()]


def join(parts: list[str]) -> str:
    return "\n\n".join(parts)


def pad(text: str, seed: int) -> str:
    if not text.strip():
        return text
    reps = -(-len(text) // len(FILLER))
    return f"{text.rstrip()}\n\n{(FILLER * reps)[: len(text)].rstrip()}"


def shuffle(text: str, seed: int) -> str:
    parts = contributions(text)
    if len(parts) < 2:
        return text
    order = list(range(len(parts)))
    rng = random.Random(seed)
    while order == sorted(order):  # a real reordering: never the original order
        rng.shuffle(order)
    return join([parts[i] for i in order])


def anonymise(text: str, seed: int) -> str:
    return _AGENT.sub("a contributor", _HEADER.sub("### Contribution", text))


def duplicate(text: str, seed: int) -> str:
    parts = contributions(text)
    if not parts:
        return text
    return join([*parts, random.Random(seed).choice(parts)])


def truncate(text: str, seed: int) -> str:
    return text[: len(text) - len(text) // 3].rstrip()


PROBES: dict[str, Callable[[str, int], str]] = {
    "pad": pad,
    "shuffle": shuffle,
    "anonymise": anonymise,
    "duplicate": duplicate,
    "truncate": truncate,
}
