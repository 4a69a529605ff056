"""``compact --drop-stale`` deletes the rows of episodes not in the stored plan, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep.cli import main
from sweep.results.store import MANIFEST, REPLACES, ResultStore
from sweep.stale import drop_stale


def _rows(ids: list[str]) -> dict[str, list[dict]]:
    runs = [{"episode_id": e, "attempt": 1, "step": 0, "status": "ok"} for e in ids]
    agents = [{"episode_id": e, "attempt": 1, "step": 0, "agent": 0} for e in ids]
    return {"runs": runs, "agents": agents}


def _ids(store: ResultStore, table: str) -> list[str]:
    return sorted(store.read_table(table, ["episode_id"]).column("episode_id").to_pylist())


def test_drops_only_stale_rows_and_leaves_no_replaces_lists(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path))
    store.write_rows(_rows(["a", "c"]))
    store.write_rows(_rows(["b"]))
    store.write_plan(["a", "b"])
    got = {d.table: (d.rows_dropped, d.rows_kept) for d in drop_stale(store)}
    assert got["runs"] == (1, 1) and got["agents"] == (1, 1)  # only the part holding c
    assert _ids(store, "runs") == ["a", "b"] and _ids(store, "agents") == ["a", "b"]
    assert not [p for p in tmp_path.rglob(f"*{REPLACES}")]
    assert drop_stale(store)[0].rows_dropped == 0  # nothing left to drop


def test_cli_drop_stale_needs_the_stored_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ResultStore(str(tmp_path))
    store.write_text(MANIFEST, "sweep: smoke\n")
    store.write_rows(_rows(["a"]))
    assert main(["compact", str(tmp_path), "--drop-stale"]) == 2
    assert "has no plan.parquet" in capsys.readouterr().err
    store.write_plan([])
    assert main(["compact", str(tmp_path), "--drop-stale"]) == 0
    assert "runs: dropped 1 stale rows" in capsys.readouterr().out
    assert _ids(store, "runs") == []
