"""The result store: atomic parts, commit order, unreadable parts, other filesystems."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sweep.results.store import BufferedWriter, ResultStore, StoreWarning


def _run(eid: str, attempt: int = 1, status: str = "ok") -> dict:
    return {"episode_id": eid, "attempt": attempt, "step": 0, "status": status, "quality": 0.5}


def _agent(eid: str, attempt: int = 1) -> dict:
    return {"episode_id": eid, "attempt": attempt, "step": 0, "agent": 0, "builds_on": [1]}


def test_parts_are_written_atomically_and_listed(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    path = store.write_part("runs", [_run("a"), _run("b")])
    assert path is not None and path.endswith(".parquet")
    assert not list((tmp_path / "r" / "runs").glob("*.tmp"))
    (tmp_path / "r" / "runs" / "part-x.parquet.tmp").write_bytes(b"half a file")
    assert store.parts("runs") == [path]
    assert set(store.committed()) == {"a", "b"}


def test_runs_written_last(tmp_path: Path, monkeypatch) -> None:
    store = ResultStore(str(tmp_path / "r"))
    order: list[str] = []
    real = store.write_part
    monkeypatch.setattr(
        store, "write_part", lambda t, rows, **kw: order.append(t) or real(t, rows, **kw)
    )
    store.write_rows({"runs": [_run("a")], "agents": [_agent("a")], "transcripts": []})
    assert order[-1] == "runs"


def test_latest_attempt_and_ok_win(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    store.write_part("runs", [_run("a", 1, "failed"), _run("b", 1, "ok")])
    store.write_part("runs", [_run("a", 2, "ok")])
    c = store.committed()
    assert (c["a"].attempt, c["a"].status) == (2, "ok")
    assert c["b"].status == "ok"


def test_unreadable_part_is_skipped_with_a_warning(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    store.write_part("runs", [_run("a")])
    (tmp_path / "r" / "runs" / "part-0-broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.warns(StoreWarning, match="unreadable part file"):
        committed = store.committed()
    assert set(committed) == {"a"}


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_many_parts_read_in_one_scan_and_a_foreign_part_is_skipped(
    tmp_path: Path, scheme: str
) -> None:
    import pyarrow.parquet as pq

    uri = f"memory://orgsweep-scan/{tmp_path.name}" if scheme == "memory" else str(tmp_path)
    store = ResultStore(uri)
    for i in range(30):
        store.write_part("runs", [_run(f"e{i}", attempt=1 + i % 2)])
    assert {e: c.attempt for e, c in store.committed().items()} == {
        f"e{i}": 1 + i % 2 for i in range(30)
    }
    # A part of another schema (no `status` column): the others still count, it is named.
    with store.fs.open_output_stream(store.path("runs", "part-9-foreign.parquet")) as out:
        pq.write_table(pa.table({"episode_id": ["zz"], "attempt": [1]}), out)
    with pytest.warns(StoreWarning, match="part-9-foreign.parquet"):
        committed = store.committed()
    assert len(committed) == 30 and "zz" not in committed


def test_bad_column_type_is_rejected_before_writing(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        store.write_part("runs", [{"episode_id": "a", "attempt": "one"}])
    assert store.parts("runs") == []


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_non_default_filesystems(tmp_path: Path, scheme: str) -> None:
    uri = f"memory://orgsweep-test/{tmp_path.name}" if scheme == "memory" else tmp_path.as_uri()
    store = ResultStore(uri)
    w = BufferedWriter(store, flush_rows=10**6, flush_seconds=10**6)
    w.add({"runs": [_run("a")], "agents": [_agent("a")]})
    assert not w.due()
    assert w.flush() == 1
    store.write_text("sweep.yaml", "sweep: x\n")
    assert store.read_text("sweep.yaml") == "sweep: x\n"
    assert set(store.committed()) == {"a"}
    assert store.read_table("agents").num_rows == 1


def test_writer_flushes_by_size(tmp_path: Path) -> None:
    w = BufferedWriter(ResultStore(str(tmp_path / "r")), flush_rows=3, flush_seconds=10**6)
    w.add({"runs": [_run("a")], "agents": [_agent("a")]})
    assert not w.due()
    w.add({"runs": [_run("b")]})
    assert w.due()


# ---- compaction ---------------------------------------------------------------------------


def _three_commits(store: ResultStore) -> None:
    for i in range(3):
        eid = f"e{i}"
        store.write_rows(
            {"runs": [_run(eid)], "agents": [_agent(eid), {**_agent(eid), "agent": 1}]}
        )


def _counts(uri: str) -> tuple[int, int]:
    from analysis import load

    r = load(uri)
    return r.runs.collect().height, r.agents.collect().height


def test_compaction_keeps_every_row_once(tmp_path: Path) -> None:
    from sweep.results.compact import compact

    store = ResultStore(str(tmp_path / "r"))
    _three_commits(store)
    before = _counts(store.uri)
    assert before == (3, 6) and len(store.parts("agents")) == 3
    done = {c.table: c for c in compact(store, grace_s=0)}
    assert (done["agents"].parts_before, done["agents"].parts_after, done["agents"].rows) == (
        3,
        1,
        6,
    )
    assert _counts(store.uri) == before
    assert sorted(p.name for p in (tmp_path / "r" / "agents").iterdir())[0].startswith("part-")
    assert not [p for p in (tmp_path / "r").rglob("*") if p.name.endswith((".replaces", ".tmp"))]


def test_a_crash_after_the_merged_part_appears_reads_each_row_once(tmp_path: Path) -> None:
    """The merged part is in place, the parts it replaces are not yet deleted: readers skip
    them, and the next compaction deletes them."""
    from sweep.results.compact import compact

    store = ResultStore(str(tmp_path / "r"))
    _three_commits(store)
    old = store.parts("agents")
    merged = store.write_part("agents", store.read_table("agents"), replaces=old)
    assert store.parts("agents") == [merged]  # the old parts still exist, unlisted
    assert all(Path(p).exists() for p in old)
    assert _counts(store.uri) == (3, 6)
    compact(store, grace_s=0)
    assert not any(Path(p).exists() for p in old)
    assert _counts(store.uri) == (3, 6)
    assert not list((tmp_path / "r").rglob("*.replaces"))


def test_a_crash_before_the_merged_part_appears_keeps_the_old_parts(tmp_path: Path) -> None:
    from sweep.results.compact import compact

    store = ResultStore(str(tmp_path / "r"))
    _three_commits(store)
    old = store.parts("agents")
    ghost = store.path("agents", "part-9-never-moved.parquet")
    (tmp_path / "r" / "agents" / "part-9-never-moved.parquet.replaces").write_text(
        "".join(Path(p).name + "\n" for p in old)
    )
    assert store.parts("agents") == old and not Path(ghost).exists()
    assert _counts(store.uri) == (3, 6)
    compact(store, grace_s=0)
    assert _counts(store.uri) == (3, 6) and len(store.parts("agents")) == 1
    assert not list((tmp_path / "r").rglob("*.replaces"))


def test_compaction_leaves_unreadable_parts_in_place(tmp_path: Path) -> None:
    """A damaged part and a part of another schema are neither merged nor deleted: compaction
    names them and merges the rest (it used to stop at a part lacking a column)."""
    import pyarrow.parquet as pq

    from sweep.results.compact import compact

    store = ResultStore(str(tmp_path / "r"))
    _three_commits(store)
    broken = tmp_path / "r" / "runs" / "part-0-broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    foreign = store.path("runs", "part-0-foreign.parquet")
    pq.write_table(pa.table({"episode_id": ["zz"], "attempt": [1]}), foreign)
    with pytest.warns(StoreWarning) as caught:
        done = {c.table: c for c in compact(store)}
    named = " ".join(str(w.message) for w in caught)
    assert "part-0-broken.parquet" in named and "part-0-foreign.parquet" in named
    assert (done["runs"].parts_before, done["runs"].parts_after, done["runs"].rows) == (5, 3, 3)
    assert broken.exists() and Path(foreign).exists()
    with pytest.warns(StoreWarning):
        assert set(store.committed()) == {"e0", "e1", "e2"}
