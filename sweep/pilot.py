"""Pilots: which K episodes ``sweep.limit=K`` keeps, so that a small pilot spans the design.

The rule (pure, deterministic, a subset of the full plan, ids unchanged):

1. Each block's episodes are put in pilot order: first those at the block's extremes of N (the
   smallest and the largest ``n_agents``), then the others in plan order. The extremes follow
   the plan's order of cells, in which models and protocols vary fastest, each cell taken at
   the small and the large end of N alternately (the other end of each cell comes after), so
   the first few already span every model and protocol and both ends of N.
2. The blocks take turns (round robin in the sweep's block order), one episode each, until K
   are drawn: every block is in the pilot once K >= the number of blocks.
3. The drawn episodes keep the plan's order.

A pilot therefore reaches large N (where cost and context problems show) and every block, not
just the first cells of the first block.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sweep.spec import EpisodeSpec


def block_order(specs: Sequence[EpisodeSpec]) -> list[EpisodeSpec]:
    """One block's episodes in pilot order (rule 1)."""
    ns = [s.n_agents for s in specs]
    lo, hi = min(ns), max(ns)
    small = [s for s in specs if s.n_agents == lo]
    large = [s for s in specs if s.n_agents == hi and hi != lo]
    if len(small) == len(large):
        # The plan's grid puts N outside the other factors, so small[i] and large[i] are the
        # same cell at either end of N: take cell i at the small end for even i, at the large
        # end for odd i, so the first k span k cells (every model and protocol) and both ends.
        ends = [(small if i % 2 == 0 else large)[i] for i in range(len(small))]
        ends += [(large if i % 2 == 0 else small)[i] for i in range(len(small))]
    else:
        pairs = itertools.zip_longest(small, large)
        ends = [s for pair in pairs for s in pair if s is not None]
    rest = [s for s in specs if s.n_agents not in (lo, hi)]
    return ends + rest


def pilot(specs: Sequence[EpisodeSpec], k: int) -> list[EpisodeSpec]:
    """The ``k`` episodes of a pilot of ``specs`` (the module's rule), in plan order."""
    if k >= len(specs):
        return list(specs)
    blocks: dict[str, list[EpisodeSpec]] = {}
    for s in specs:
        blocks.setdefault(s.block, []).append(s)
    orders = [block_order(b) for b in blocks.values()]
    drawn = {
        s.episode_id
        for s in itertools.islice(
            (s for turn in itertools.zip_longest(*orders) for s in turn if s is not None), k
        )
    }
    return [s for s in specs if s.episode_id in drawn]
