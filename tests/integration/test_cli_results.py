"""status, query, resume and show-like reads of a results directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweep.cli import main
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def results(ensure_ray, tmp_path_factory: pytest.TempPathFactory) -> str:
    ensure_ray()
    res = str(tmp_path_factory.mktemp("cli") / "r")
    assert main(["launch", f"results_dir={res}", "sweep.limit=8", "--no-progress"]) == 0
    return res


def test_status_counts_by_cell(results: str, capsys) -> None:
    """After a pilot (sweep.limit=8), status counts the stored plan (plan.parquet), the one
    analysis reads: the whole sweep, 8 of it done."""
    assert main(["status", results]) == 0
    out = capsys.readouterr().out
    stored = ResultStore(results).read_plan()
    assert stored is not None and len(stored) > 8
    assert f"planned {len(stored)}: ok 8, failed 0, pending {len(stored) - 8}" in out


def test_query_formats(results: str, capsys) -> None:
    sql = "SELECT protocol, count(*) AS n FROM runs GROUP BY protocol ORDER BY protocol"
    assert main(["query", results, sql, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["n"] for r in rows) == 8
    assert main(["query", results, sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "protocol,n"
    q = "SELECT count(*) AS n FROM agents JOIN runs USING (episode_id, step)"
    assert main(["query", results, q]) == 0
    assert "n" in capsys.readouterr().out


def test_query_error_lists_columns(results: str, capsys) -> None:
    assert main(["query", results, "SELECT no_such_column FROM runs"]) == 2
    err = capsys.readouterr().err
    assert "no_such_column" in err and "runs(episode_id" in err and "Traceback" not in err


def test_resume_uses_the_stored_config(results: str, capsys) -> None:
    assert main(["resume", results, "--no-progress"]) == 0
    assert "Nothing to run" in capsys.readouterr().out


def test_resume_and_status_refuse_a_non_results_dir(tmp_path: Path, capsys) -> None:
    assert main(["status", str(tmp_path)]) == 2
    assert main(["resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not an orgsweep results directory" in err


def test_compact_changes_files_not_content(results: str, tmp_path: Path, capsys) -> None:
    import shutil

    copy = str(tmp_path / "copy")
    shutil.copytree(results, copy)
    sql = (
        "SELECT r.episode_id, r.step, count(*) AS agents, sum(a.prompt_tokens) AS tokens "
        "FROM runs r JOIN agents a USING (episode_id, step) GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert main(["query", copy, sql, "--format", "json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["compact", copy]) == 0
    out = capsys.readouterr().out
    assert "runs:" in out and "-> 1 part files" in out
    assert main(["query", copy, sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == before and len(before) == 8
    assert main(["resume", copy, "--no-progress"]) == 0
    assert "Nothing to run" in capsys.readouterr().out
