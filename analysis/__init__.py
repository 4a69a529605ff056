"""Analysis of orgsweep results: lazy Polars loaders, queries, statistics and reports.

``analysis.load(results_dir)`` is the entry point: the commit-aware reader of the results format
(``sweep.results.reader``), which sits below this package.
"""

from __future__ import annotations

from sweep.results.reader import Results, load

__all__ = ["Results", "load"]
