"""The result store: atomic parts, commit order, unreadable parts, other filesystems."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sweep.store import BufferedWriter, ResultStore, StoreWarning


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
    monkeypatch.setattr(store, "write_part", lambda t, rows: order.append(t) or real(t, rows))
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
