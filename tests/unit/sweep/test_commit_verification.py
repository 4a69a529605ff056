"""A commit is verifiable: a lost or damaged agents/transcripts part marks its episodes damaged
(re-run by the next launch, warned about by readers); foreign files are skipped by name."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep.launch import pending
from sweep.results.reader import load
from sweep.results.schema import TABLES
from sweep.results.store import ResultStore, StoreWarning
from sweep.results.verify import DamagedCommitWarning, incomplete


def _episode(eid: str, n_agents: int = 3) -> dict[str, list[dict[str, object]]]:
    key = {"episode_id": eid, "attempt": 1, "step": 0}
    return {
        "runs": [{**key, "status": "ok", "protocol": "shared", "n_agents": n_agents}],
        "agents": [{**key, "agent": i, "role": "Analyst"} for i in range(n_agents)],
        "transcripts": [{**key, "text": f"turn {i}"} for i in range(n_agents + 1)],
    }


def _store(tmp_path: Path, episodes: list[str]) -> ResultStore:
    store = ResultStore(str(tmp_path / "r"))
    for eid in episodes:  # one commit per episode: one part file per table each
        store.write_rows(_episode(eid))
    return store


def test_whole_commits_are_not_damaged(tmp_path: Path) -> None:
    store = _store(tmp_path, ["e1", "e2"])
    runs = pl.from_arrow(store.read_table("runs", ["episode_id", "n_agent_rows"]))
    assert sorted(runs.rows()) == [("e1", 3), ("e2", 3)]  # type: ignore[union-attr]
    assert incomplete(store).is_empty()
    assert {k: c.status for k, c in store.committed().items()} == {"e1": "ok", "e2": "ok"}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_a_damaged_agents_or_transcripts_part_marks_its_episode(
    tmp_path: Path, damage: str
) -> None:
    store = _store(tmp_path, ["e1", "e2", "e3"])
    table = "agents" if damage != "garbage" else "transcripts"
    part = Path(store.parts(table)[1])  # e2's
    if damage == "truncate":
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    elif damage == "garbage":
        part.write_bytes(b"this is not parquet")
    else:
        part.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        committed = store.committed()
        short = incomplete(store)
    assert {k: c.status for k, c in committed.items()} == {"e1": "ok", "e2": "damaged", "e3": "ok"}
    assert short.select("episode_id", "table").rows() == [("e2", table)]

    class Spec:
        def __init__(self, eid: str):
            self.episode_id = eid

    again = pending([Spec("e1"), Spec("e2"), Spec("e3")], committed)  # type: ignore[list-item]
    assert [(s.episode_id, attempt) for s, attempt in again] == [("e2", 2)]
    with pytest.warns(DamagedCommitWarning, match=rf"1 committed episode\(s\) .* \({table} 1\)"):
        load(store.uri)
    # The re-run's commit (attempt 2) is whole: the episode is healthy again.
    rerun = _episode("e2")
    for rows in rerun.values():
        for r in rows:
            r["attempt"] = 2
    store.write_rows(rerun)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StoreWarning)
        assert store.committed()["e2"].status == "ok"
        res = load(store.uri)
    assert res.agents.collect().height == 9 and res.runs.collect().height == 3


def test_foreign_and_mismatched_parts_are_skipped_by_name(tmp_path: Path) -> None:
    store = _store(tmp_path, ["e1"])
    runs_dir = tmp_path / "r" / "runs"
    pq.write_table(pa.table({"x": [1, 2]}), runs_dir / "part-0-foreign.parquet")
    bad_step = pa.table(
        {
            "episode_id": ["e9"],
            "attempt": pa.array([1], pa.int32()),
            "batch": ["b"],
            "step": ["zero"],
            "status": ["ok"],
        }
    )
    pq.write_table(bad_step, runs_dir / "part-1-strstep.parquet")
    with pytest.warns(StoreWarning) as caught:
        runs = store.read_table("runs")
        scanned = store.scan("runs").collect()
    text = "\n".join(str(w.message) for w in caught)
    assert "part-0-foreign.parquet: not an orgsweep runs part: no column episode_id" in text
    assert "part-1-strstep.parquet: column step is String, a runs part stores Int32" in text
    assert "move it out of the results directory" in text
    assert runs.column("episode_id").to_pylist() == ["e1"]
    assert scanned["episode_id"].to_list() == ["e1"]


def test_parts_written_before_a_column_existed_read_it_as_null(tmp_path: Path) -> None:
    store = _store(tmp_path, ["e1"])
    old = pa.Table.from_pylist(
        [{"episode_id": "e0", "attempt": 1, "batch": "b0", "step": 0, "status": "ok"}],
        schema=TABLES["runs"],
    ).drop_columns(["n_agent_rows", "n_transcript_rows", "node"])
    pq.write_table(old, tmp_path / "r" / "runs" / "part-0-old.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an old part is not foreign: no warning
        runs = pl.from_arrow(store.read_table("runs", ["episode_id", "n_agent_rows", "node"]))
        assert store.committed()["e0"].status == "ok"
    assert sorted(runs.rows(), key=str) == [("e0", None, None), ("e1", 3, None)]  # type: ignore[union-attr]


def _readers_during_compactions(tmp_path: Path, grace_s: float) -> tuple[int, list[str]]:
    import threading

    from analysis.query import query
    from sweep.results.compact import compact

    store = _store(tmp_path, [f"e{i}" for i in range(30)])
    stop = threading.Event()

    def compactions() -> None:
        n = 30
        while not stop.is_set():
            for _ in range(5):
                store.write_rows(_episode(f"e{n}"))
                n += 1
            compact(store, grace_s=grace_s)

    worker = threading.Thread(target=compactions)
    worker.start()
    errors: list[str] = []
    queries = 0
    try:
        for _ in range(40):
            sql = "SELECT count(*) AS n, count(DISTINCT episode_id) AS d FROM runs"
            try:
                n, d = query(store.uri, sql).row(0)
                assert n == d  # nothing counted twice
                res = load(store.uri)
                a = res.agents.collect().height
                assert a == 3 * res.runs.collect().height
            except (OSError, pl.exceptions.PolarsError) as e:
                errors.append(f"{type(e).__name__}: {e}")
            queries += 1
    finally:
        stop.set()
        worker.join()
    return queries, errors


def test_forty_queries_during_compactions_never_crash(tmp_path: Path) -> None:
    queries, errors = _readers_during_compactions(tmp_path, grace_s=600)
    assert queries == 40 and errors == []
