"""``orgsweep check``: each kind of damage in a results directory gives its finding and what the
next launch does; a clean directory says clean (exit 0), a damaged one exits 1."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweep.check import check, lines
from sweep.cli import main
from sweep.lease import LEASE, Lease
from sweep.results.store import ResultStore
from tests.unit.sweep.test_commit_verification import _episode


def _store(tmp_path: Path, episodes: tuple[str, ...] = ("e1", "e2", "e3")) -> ResultStore:
    store = ResultStore(str(tmp_path / "r"))
    for eid in episodes:
        store.write_rows(_episode(eid))
    store.write_text("sweep.yaml", "sweep: test\n")
    store.write_plan([*episodes, "e4"])
    return store


def _kinds(store: ResultStore) -> list[tuple[str, str]]:
    """(kind, path relative to the results dir) of every finding."""
    return [(f.kind, os.path.relpath(f.path, store.root)) for f in check(store.uri).findings]


def test_a_clean_results_dir_says_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    report = check(store.uri)
    assert report.clean and (report.planned, report.committed, report.to_run) == (4, 3, 1)
    assert main(["check", store.uri]) == 0
    assert capsys.readouterr().out == (
        f"{store.uri}: clean (3 episode(s) committed of 4 planned; the next launch runs 1)\n"
    )


def test_a_truncated_agents_part_and_a_garbage_transcripts_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    agents = Path(store.parts("agents")[1])  # e2's
    agents.write_bytes(agents.read_bytes()[:100])
    transcripts = Path(store.parts("transcripts")[2])  # e3's
    transcripts.write_bytes(b"not parquet at all")
    report = check(store.uri)
    found = {(f.kind, Path(f.path).name): f for f in report.findings}
    assert set(found) == {
        ("unreadable", agents.name),
        ("unreadable", transcripts.name),
        ("damaged", "agents"),
        ("damaged", "transcripts"),
    }
    assert found["damaged", "agents"].episodes == ("e2",)
    assert found["damaged", "transcripts"].episodes == ("e3",)
    assert "re-runs them" in found["damaged", "agents"].action
    assert (report.committed, report.to_run) == (1, 3)  # e2, e3 damaged; e4 never ran
    assert main(["check", store.uri, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["clean"] is False and data["to_run"] == 3
    assert sorted(f["kind"] for f in data["findings"]) == [
        "damaged",
        "damaged",
        "unreadable",
        "unreadable",
    ]


def test_failed_episodes_are_counted_apart(tmp_path: Path) -> None:
    store = _store(tmp_path)
    failed = _episode("e4")
    failed["runs"][0]["status"] = "failed"
    store.write_rows(failed)
    report = check(store.uri)
    assert report.clean and (report.committed, report.failed, report.to_run) == (4, 1, 0)
    assert "; 1 failed (re-run with --retry-failed)" in lines(report)[0]


def test_foreign_parts_and_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    runs = Path(store.path("runs"))
    pq.write_table(pa.table({"x": [1]}), runs / "part-0-foreign.parquet")
    bad = pa.table({"episode_id": ["e9"], "attempt": pa.array([1], pa.int32()), "batch": ["b"]})
    pq.write_table(bad.append_column("step", pa.array(["zero"])), runs / "part-1-str.parquet")
    (runs / "notes.txt").write_text("mine")
    assert sorted(_kinds(store)) == [
        ("foreign", "runs/notes.txt"),
        ("foreign", "runs/part-0-foreign.parquet"),
        ("foreign", "runs/part-1-str.parquet"),
    ]
    [step] = [f for f in check(store.uri).findings if f.path.endswith("str.parquet")]
    assert step.problem == "column step is String, a runs part stores Int32"


def test_a_lost_runs_part_leaves_orphaned_rows_that_the_next_launch_runs(tmp_path: Path) -> None:
    store = _store(tmp_path)
    Path(store.parts("runs")[0]).unlink()  # e1's commit loses its runs rows
    report = check(store.uri)
    assert [(f.kind, Path(f.path).name, f.episodes) for f in report.findings] == [
        ("orphaned", "agents", ("e1",)),
        ("orphaned", "transcripts", ("e1",)),
    ]
    assert "the next launch runs 1 of these 1 episode(s)" in report.findings[0].action
    assert report.to_run == 2


def test_leftovers_of_crashed_writers_and_compactions(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (Path(store.path("agents")) / "part-5-x.parquet.tmp").write_bytes(b"half")
    (Path(store.root) / ".sweep.yaml.tmp").write_text("half")
    never = Path(store.path("runs")) / "part-7-m.parquet.replaces"
    never.write_text("part-1.parquet\n")  # its merged part never appeared
    assert sorted(_kinds(store)) == [
        ("leftover", ".sweep.yaml.tmp"),
        ("leftover", "agents/part-5-x.parquet.tmp"),
        ("leftover", "runs/part-7-m.parquet.replaces"),
    ]
    from sweep.results.compact import compact

    compact(store, min_parts=99)  # what the findings say: compact removes a table's leftovers
    assert _kinds(store) == [("leftover", ".sweep.yaml.tmp")]
    store.write_text("sweep.yaml", "sweep: test\n")  # ... and the next write, the root's
    assert check(store.uri).clean


def test_a_merge_in_its_grace_period_is_not_a_leftover(tmp_path: Path) -> None:
    from sweep.results.compact import GRACE_S, compact

    store = _store(tmp_path)
    compact(store)
    assert check(store.uri).clean
    old = time.time() - GRACE_S - 1
    for listing in Path(store.root).rglob("*.replaces"):
        os.utime(listing, (old, old))
    assert {k for k, _ in _kinds(store)} == {"leftover"}


def test_a_held_and_a_stale_lease(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with Lease(store, "launch"):
        [held] = check(store.uri).findings
        assert held.kind == "lease" and held.problem.startswith("held by `orgsweep launch`")
        assert "refuses" in held.action
    record = json.dumps(
        {"host": "elsewhere", "pid": 1, "command": "compact", "token": "t", "started": 0.0,
         "renewed": 0.0}
    )  # fmt: skip
    Path(store.path(LEASE)).write_text(record)
    [stale] = check(store.uri).findings
    assert stale.kind == "lease" and stale.problem.startswith("stale")
    assert "takes it over" in stale.action


@pytest.mark.parametrize("damage", ["missing", "directory", "garbage"])
def test_a_missing_or_damaged_plan(tmp_path: Path, damage: str) -> None:
    store = _store(tmp_path)
    plan = Path(store.path("plan.parquet"))
    plan.unlink()
    if damage == "directory":
        plan.mkdir()
    elif damage == "garbage":
        plan.write_bytes(b"garbage")
    report = check(store.uri)
    [f] = report.findings
    assert (f.kind, f.path, report.planned, report.to_run) == ("plan", str(plan), None, None)
    if damage == "missing":
        assert f.action.startswith("the next `orgsweep launch` writes it")
    else:
        assert "is not a readable plan" in f.problem and "move it out" in f.problem


def test_an_invalid_manifest_and_a_runs_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    Path(store.path("sweep.yaml")).write_text("a: [b\n : ::")
    runs = Path(store.path("runs"))
    for p in runs.iterdir():
        p.unlink()
    runs.rmdir()
    runs.write_text("x")
    report = check(store.uri)
    assert [(f.kind, Path(f.path).name) for f in report.findings] == [
        ("manifest", "sweep.yaml"),
        ("foreign", "runs"),
    ]
    assert report.findings[0].problem.endswith(
        "sweep.yaml is not valid YAML (expected ',' or ']', but got ':' at line 2, column 2); "
        "move it aside"
    )
    assert report.committed is None


def test_check_of_a_directory_that_is_not_a_results_dir_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(tmp_path / "nothing")]) == 2
    assert "is not an orgsweep results directory" in capsys.readouterr().err
