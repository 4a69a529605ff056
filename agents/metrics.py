"""Per-step organisation metrics of docs/design/protocols.md section 4 (pure functions)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from agents.contract import normalise_role


def gini(counts: Sequence[int]) -> float:
    """Gini coefficient of usage counts (0 = every role used equally often)."""
    xs = sorted(c for c in counts if c > 0)
    n = len(xs)
    if n <= 1:
        return 0.0
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * sum(xs)) - (n + 1) / n


def role_stats(roles: Iterable[str]) -> tuple[int, float, float]:
    """(unique normalised roles, duplication = 1 - unique/participating, Gini of usage)."""
    counts = Counter(normalise_role(r) for r in roles)
    total = sum(counts.values())
    if total == 0:
        return 0, 0.0, 0.0
    unique = len(counts)
    return unique, 1 - unique / total, gini(list(counts.values()))


def hierarchy_depth(edges: Mapping[int, Sequence[int]], nodes: Iterable[int]) -> int:
    """Agents on the longest chain of the ``builds_on`` graph; 1 when nobody builds on anyone,
    0 when nobody took part. A cycle (possible when agents see each other's intentions) is cut
    where the walk meets it."""
    memo: dict[int, int] = {}

    def depth(n: int, path: frozenset[int]) -> int:
        if n in memo:
            return memo[n]
        best = 0
        for m in edges.get(n, ()):
            if m not in path:
                best = max(best, depth(m, path | {m}))
        memo[n] = 1 + best
        return memo[n]

    return max((depth(n, frozenset({n})) for n in nodes), default=0)
