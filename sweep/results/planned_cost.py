"""``plan_cost.json``: the cost estimate of the plan as it stood at launch, read in one place.

``orgsweep launch`` writes it beside ``plan.parquet`` (``sweep.plan_cost.store_estimate``): the
plan digest, when, and the object ``orgsweep plan --json`` returns under ``cost``
(``sweep.estimate.as_json``). ``orgsweep status`` and the report compare what was spent with it,
so they show what was planned at launch, not a re-estimate under later code or constants.
Written atomically; a missing file (results of an older launch) reads as None, a damaged one is
a UserError naming the file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sweep.errors import UserError
from sweep.results.store import ResultStore

PLAN_COST = "plan_cost.json"


def write_plan_cost(store: ResultStore, plan_digest: str, cost: dict[str, Any]) -> None:
    record = {
        "plan_digest": plan_digest,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "cost": cost,
    }
    store.write_text(PLAN_COST, json.dumps(record, indent=1, sort_keys=False))


def read_plan_cost(store: ResultStore) -> dict[str, Any] | None:
    """The stored record (keys ``plan_digest``, ``written``, ``cost``), or None if absent."""
    text = store.read_text(PLAN_COST)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UserError(
            f"{store.uri}/{PLAN_COST} is not valid JSON ({e}); move it aside (the next "
            "`orgsweep launch` writes it again)"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cost"), dict):
        raise UserError(
            f"{store.uri}/{PLAN_COST} has no 'cost' object; move it aside (the next "
            "`orgsweep launch` writes it again)"
        )
    return data
