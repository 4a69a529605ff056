"""A results dir belongs to one sweep; commands refuse a path that is not a results dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep.cli import main
from sweep.ownership import check_owner, ownership_problem
from sweep.results.store import MANIFEST, ResultStore


def _stored(path: Path, name: str, ids: list[str]) -> ResultStore:
    store = ResultStore(str(path))
    store.write_text(MANIFEST, f"sweep: {name}\noverrides: []\n")
    store.write_plan(ids)
    return store


def test_another_sweep_is_refused_by_default_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stored(tmp_path, "protocols", ["a", "b"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["launch", f"results_dir={tmp_path}", "sweep=smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"orgsweep: error: {tmp_path} holds sweep 'protocols', not 'smoke'; nothing was "
        "written. Use another results_dir, or --on-config-change=warn to add to it anyway "
        "(episodes not in this plan become stale)\n"
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_different_plan_is_named_and_warn_lets_it_through(tmp_path: Path) -> None:
    store = _stored(tmp_path, "smoke", ["a", "b"])
    assert ownership_problem(store, "smoke", ["a", "b"]) is None
    msg = f"the plan of sweep 'smoke' differs from the one stored in {tmp_path} "
    assert ownership_problem(store, "smoke", ["b", "c", "d"]) == (
        msg + "(2 new episode(s), 1 no longer planned)"
    )
    assert (
        check_owner(store, "smoke", ["c"], "warn")
        == msg + "(1 new episode(s), 2 no longer planned)"
    )
    assert ownership_problem(ResultStore(str(tmp_path / "new")), "smoke", ["a"]) is None


@pytest.mark.parametrize("command", [["status"], ["query", "SELECT 1"], ["show", "x"], ["compact"]])
def test_a_path_that_is_no_results_dir_is_one_message(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    argv = [command[0], str(missing), *command[1:]]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"orgsweep: error: {missing} is not an orgsweep results directory (it does not exist); "
        "give the results_dir of a launch, e.g. results/smoke\n"
    )


def test_stale_episodes_accepted_once_do_not_block_the_next_launch(tmp_path: Path) -> None:
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, _ = build(compose([f"results_dir={tmp_path}"]))
    store = _stored(tmp_path, "smoke", plan(typed).ids)  # the full plan, as launch stores it
    store.write_rows({"runs": [{"episode_id": "old", "attempt": 1, "step": 0, "status": "ok"}]})
    argv = ["launch", f"results_dir={tmp_path}", "sweep.limit=0", "--no-progress"]  # no Ray
    assert main(argv) == 0  # same sweep and plan: the stale episode only warns
