"""A results directory belongs to one sweep: the checks ``launch`` makes before writing to one.

The directory's ``sweep.yaml`` names the sweep and its ``plan.parquet`` holds the full plan's
episode ids (without ``sweep.limit``, so a pilot and its full run share a directory). A launch
of another sweep, or of a plan whose ids differ (a result-affecting change: mission, seed,
blocks, ...), is refused before anything is written, unless ``--on-config-change=warn`` says
to carry on; the episodes then no longer planned become stale (``compact --drop-stale``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sweep.errors import UserError
from sweep.results.manifest import read_manifest
from sweep.results.store import ResultStore


def ownership_problem(store: ResultStore, name: str, full_ids: Sequence[str]) -> str | None:
    """Why this launch is not the sweep stored in ``store`` (None when it is, or it is new)."""
    manifest = read_manifest(store, required=False)  # the one reader: one message if invalid
    if manifest is None:
        return None
    stored = manifest.get("sweep")
    if stored is not None and str(stored) != name:
        return f"{store.uri} holds sweep {stored!r}, not {name!r}"
    old = store.read_plan()
    if old is None or set(old) == set(full_ids):
        return None
    new, gone = len(set(full_ids) - set(old)), len(set(old) - set(full_ids))
    return (
        f"the plan of sweep {name!r} differs from the one stored in {store.uri} "
        f"({new} new episode(s), {gone} no longer planned)"
    )


def check_owner(store: ResultStore, name: str, full_ids: Sequence[str], mode: str) -> str | None:
    """Raise ``UserError`` for another sweep unless ``mode == "warn"``; returns the warning."""
    problem = ownership_problem(store, name, full_ids)
    if problem is None or mode == "warn":
        return problem
    raise UserError(
        f"{problem}; nothing was written. Use another results_dir, or "
        "--on-config-change=warn to add to it anyway (episodes not in this plan become stale)"
    )
