"""The deliverable: participating contributions in protocol order, each headed by its role.

No extra LLM call makes it (the paper's call counts leave none). Past the judge's budget, whole
contributions are kept in order until the budget is reached and truncation is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.backends.chat import estimate_tokens
from agents.runtime import TurnRecord


@dataclass(frozen=True)
class Deliverable:
    text: str
    parts: int
    truncated: bool


def assemble(turns: Sequence[TurnRecord], budget_tokens: int) -> Deliverable:
    chunks: list[str] = []
    used = 0
    truncated = False
    for t in turns:
        if not t.participate or not t.contribution.strip():
            continue
        chunk = f"### {t.role or 'Contributor'} (agent {t.agent})\n{t.contribution.strip()}"
        cost = estimate_tokens(chunk)
        if chunks and used + cost > budget_tokens:
            truncated = True
            break
        chunks.append(chunk)
        used += cost
    return Deliverable("\n\n".join(chunks), len(chunks), truncated)
