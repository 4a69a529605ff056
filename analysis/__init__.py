"""Analysis of orgsweep results: lazy Polars loaders, queries, statistics and reports.

``analysis.load(results_dir)`` is the entry point; it is imported on first use so that
``sweep.results.schema`` stays importable by the store without a cycle.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Results", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("sweep.results.reader"), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
