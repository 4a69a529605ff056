"""vLLM's own prefix-cache counters, read from its Prometheus ``/metrics`` text.

vLLM's V1 engine (0.29, the version Ray 2.60's Serve LLM pins) counts, in tokens, the prompt
tokens it looked up in its prefix cache (``vllm:prefix_cache_queries``) and those it found
(``vllm:prefix_cache_hits``); Prometheus exposes counters with a ``_total`` suffix and one
series per engine/model label set, summed here. The llm tier reads them around a sweep.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass

_LINE = re.compile(r"^(vllm:prefix_cache_(?:queries|hits))(?:_total)?(?:\{[^}]*\})?\s+(\S+)", re.M)


@dataclass(frozen=True)
class PrefixCounters:
    queries: float
    hits: float

    @property
    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0

    def __sub__(self, before: PrefixCounters) -> PrefixCounters:
        return PrefixCounters(self.queries - before.queries, self.hits - before.hits)


def parse(text: str) -> PrefixCounters:
    """The summed counters in a ``/metrics`` page; a missing counter raises ``KeyError``."""
    sums: dict[str, float] = {}
    for name, value in _LINE.findall(text):
        sums[name] = sums.get(name, 0.0) + float(value)
    return PrefixCounters(sums["vllm:prefix_cache_queries"], sums["vllm:prefix_cache_hits"])


def read(root_url: str, timeout_s: float = 30.0) -> PrefixCounters:
    """The counters of the server at ``root_url`` (``http://host:port``, no ``/v1``)."""
    with urllib.request.urlopen(f"{root_url.rstrip('/')}/metrics", timeout=timeout_s) as r:
        return parse(r.read().decode())
