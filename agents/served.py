"""What the servers said about the calls of a run step: the model ids they report serving, their
system fingerprints, and how many calls' token counts are estimates (docs/design/inference.md).

The runtime keeps one ``Served`` per agent and the judge one per verdict; the episode joins them
into the ``runs``/``agents`` provenance columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.backends.chat import ChatResponse, served_elsewhere
from agents.catalogue import ModelSpec


@dataclass
class Served:
    models: set[str] = field(default_factory=set)  # served model ids reported
    fingerprints: set[str] = field(default_factory=set)
    estimated: int = 0  # calls whose token counts are estimates (the server sent no usage)
    mismatched: int = 0  # calls whose served id is not the configured model

    def add(self, model: ModelSpec, reply: ChatResponse) -> None:
        """Record one call to ``model`` and its reply."""
        if reply.served_model:
            self.models.add(reply.served_model)
        if reply.fingerprint:
            self.fingerprints.add(reply.fingerprint)
        self.estimated += reply.tokens_estimated
        self.mismatched += served_elsewhere(model, reply.served_model)


def joined(values: Iterable[str]) -> str:
    """Sorted distinct values, comma-separated (a column value)."""
    return ",".join(sorted(set(values)))


def merged(parts: Iterable[Served]) -> Served:
    """One ``Served`` for several (the agents of a step)."""
    out = Served()
    for p in parts:
        out.models |= p.models
        out.fingerprints |= p.fingerprints
        out.estimated += p.estimated
        out.mismatched += p.mismatched
    return out
