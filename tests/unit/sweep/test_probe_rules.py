"""Probe verdicts (pass / fail / inconclusive) and the stratified sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.probe import TOLERANCE, Change, sample_keys, verdict_of
from sweep.results.store import ResultStore


def _c(q: tuple[float, float, float], comp: tuple[float, float, float] = (0, 0, 0)) -> dict:
    return {"Q": Change("Q", *q), "completeness": Change("completeness", *comp)}


@pytest.mark.parametrize(
    ("kind", "changes", "verdict"),
    [
        ("pad", _c((0.0, -0.01, 0.01)), "pass"),
        ("pad", _c((0.01, -0.01, 0.04)), "inconclusive"),  # CI reaches past the tolerance
        ("pad", _c((TOLERANCE, 0.02, 0.05)), "fail"),
        ("shuffle", _c((-0.04, -0.06, -0.02)), "fail"),  # a drop fails an invariance too
        ("duplicate", _c((-0.2, -0.3, -0.1)), "pass"),  # repetition may cost, never earn
        ("duplicate", _c((0.04, 0.02, 0.06)), "fail"),
        ("truncate", _c((-0.05, -0.07, -0.03), (-0.3, -0.4, -0.2)), "pass"),
        ("truncate", _c((0.0, 0.0, 0.0), (-0.1, -0.3, 0.1)), "inconclusive"),
        ("truncate", _c((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)), "fail"),  # must move the score
    ],
)
def test_verdicts(kind: str, changes: dict, verdict: str) -> None:
    assert verdict_of(kind, changes)[0] == verdict


def test_the_sample_is_stratified_and_deterministic(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    rows = [
        {"episode_id": f"{p}{n}-{i}", "attempt": 1, "batch": "b", "step": 0, "status": "ok",
         "protocol": p, "n_agents": n, "level": "L3", "task_id": f"t{i}"}
        for p in ("seq", "coord") for n in (4, 64) for i in range(10)
    ]  # fmt: skip
    store.write_part("runs", rows)
    keys = sample_keys(store.uri, 8)
    assert keys == sample_keys(store.uri, 8) and len(keys) == 8
    strata = sorted(k[0].split("-")[0] for k in keys)
    assert strata == ["coord4"] * 2 + ["coord64"] * 2 + ["seq4"] * 2 + ["seq64"] * 2
    assert sample_keys(store.uri, 8, seed=1) != keys


def test_a_relaunch_of_the_same_sweep_draws_the_same_run_steps(tmp_path: Path) -> None:
    """Each launch commits under its own batch id (and a resumed episode under a later attempt);
    the sample must name the same episodes and steps from either."""
    stores = []
    for batch, attempt in (("01796244126523352144-9893be90", 1), ("01796244146535284505-x", 2)):
        store = ResultStore(str(tmp_path / batch))
        rows = [
            {"episode_id": f"e{i:02d}", "attempt": attempt, "batch": batch, "step": 0,
             "status": "ok", "protocol": "seq", "n_agents": 4, "level": "L3", "task_id": f"t{i}"}
            for i in range(40)
        ]  # fmt: skip
        store.write_part("runs", rows)
        stores.append({(k[0], k[3]) for k in sample_keys(store.uri, 10)})
    assert stores[0] == stores[1] and len(stores[0]) == 10
