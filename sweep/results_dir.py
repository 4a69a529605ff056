"""The one check every command that reads a results directory makes first."""

from __future__ import annotations

from sweep.errors import UserError
from sweep.results.store import MANIFEST, ResultStore


def require_results_dir(uri: str) -> ResultStore:
    """The store at ``uri``; ``UserError`` when it is not an orgsweep results directory."""
    store = ResultStore(uri)
    if store.read_text(MANIFEST) is None:
        what = "does not exist" if not store.exists() else f"has no {MANIFEST}"
        raise UserError(
            f"{uri} is not an orgsweep results directory (it {what}); give the results_dir "
            "of a launch, e.g. results/smoke"
        )
    return store
