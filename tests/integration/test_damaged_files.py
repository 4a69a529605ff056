"""Foreign and mismatched files in a results directory (issue 18, item 5): every analysis command
(query, report, status, show, compact, launch) either skips the file with one warning naming it
or stops with one message naming it and the fix; none raises a traceback or loses a commit."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import load
from sweep.cli import main
from sweep.results.store import StoreWarning
from sweep.results.verify import DamagedCommitWarning

pytestmark = pytest.mark.integration

LIMIT = "sweep.limit=6"


@pytest.fixture(scope="module")
def launched(ensure_ray: Callable[[], None], tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_ray()
    res = tmp_path_factory.mktemp("damaged") / "r"
    assert main(["launch", f"results_dir={res}", LIMIT, "--no-progress"]) == 0
    return res


def _commands(res: Path, out: Path) -> dict[str, list[str]]:
    episode = load(str(res)).runs.select("episode_id").collect()["episode_id"][0]
    return {
        "query": ["query", str(res), "SELECT count(*) AS n FROM runs"],
        "report": ["report", str(res), "--out", str(out)],
        "status": ["status", str(res)],
        "show": ["show", str(res), episode],
        "compact": ["compact", str(res)],
        "launch": ["launch", f"results_dir={res}", LIMIT, "--no-progress"],
    }


def _copy(launched: Path, tmp_path: Path) -> tuple[Path, dict[str, list[str]]]:
    res = tmp_path / "r"
    shutil.copytree(launched, res)
    return res, _commands(res, tmp_path / "report")


def _stops(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    """``argv`` exits 2 printing ``message``, one line."""
    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err == f"orgsweep: error: {message}\n", argv


def _one_runs_part(res: Path) -> Path:
    [part] = (res / "runs").glob("part-*.parquet")
    return part


def test_plan_parquet_that_is_a_directory(
    launched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res, commands = _copy(launched, tmp_path)
    plan = res / "plan.parquet"
    plan.unlink()
    plan.mkdir()
    message = (
        f"{plan} is not a readable plan (it is a directory, not a file); move it out of the "
        "results directory; the next `orgsweep launch` then writes it again"
    )
    for name in ("query", "report", "status", "launch"):
        _stops(capsys, commands[name], message)
    for name in ("show", "compact"):  # they do not need the plan
        assert main(commands[name]) == 0, name
    plan.rmdir()  # the fix the message names
    assert main(commands["launch"]) == 0
    assert "6 already committed, 0 to run" in capsys.readouterr().out


def test_runs_that_is_a_file(
    launched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res, commands = _copy(launched, tmp_path)
    runs = res / "runs"
    kept = tmp_path / "runs-kept"
    runs.rename(kept)
    runs.write_text("not a folder")
    message = (
        f"{runs} is a file, not the directory of runs part files; move it out of the results "
        "directory"
    )
    for argv in commands.values():
        _stops(capsys, argv, message)
    runs.unlink()
    kept.rename(runs)
    assert main(commands["query"]) == 0  # nothing was lost


def test_garbage_sweep_yaml(
    launched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res, commands = _copy(launched, tmp_path)
    (res / "sweep.yaml").write_text("sweep: [smoke\n : ::\n")
    message = (
        f"{res}/sweep.yaml is not valid YAML (expected ',' or ']', but got ':' at line 2, "
        "column 2); move it aside"
    )
    for name in ("status", "report", "compact", "launch"):
        _stops(capsys, commands[name], message)
    for name in ("query", "show"):  # they read only the tables
        assert main(commands[name]) == 0, name


def _foreign(res: Path) -> str:
    pq.write_table(pa.table({"x": [1, 2]}), res / "runs" / "part-0-foreign.parquet")
    return "part-0-foreign.parquet: not an orgsweep runs part: no column episode_id"


def _string_step(res: Path) -> str:
    t = pq.read_table(_one_runs_part(res))
    i = t.column_names.index("step")
    t = t.set_column(i, "step", pa.array([str(s) for s in t.column("step").to_pylist()]))
    pq.write_table(t, res / "runs" / "part-1-strstep.parquet")
    return "part-1-strstep.parquet: column step is String, a runs part stores Int32"


@pytest.mark.parametrize("damage", [_foreign, _string_step], ids=["foreign", "string-step"])
def test_a_foreign_or_mismatched_runs_part_is_skipped_by_name(
    launched: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], str],
) -> None:
    res, commands = _copy(launched, tmp_path)
    named = damage(res)
    for name, argv in commands.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(argv) == 0, name
        texts = {str(w.message) for w in caught if issubclass(w.category, StoreWarning)}
        assert any(named in t and "move it out of the results directory" in t for t in texts), name
        if name == "launch":
            assert "6 already committed, 0 to run" in capsys.readouterr().out
    with pytest.warns(StoreWarning, match=named.split(":")[0]):
        assert load(str(res)).runs.collect().height == 6  # every commit still counted once


def _episodes_in(part: Path) -> set[str]:
    return set(pq.read_table(part, columns=["episode_id"]).column("episode_id").to_pylist())


def test_a_truncated_agents_part_and_a_garbage_transcripts_part_are_re_run_once(
    ensure_ray: Callable[[], None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Acceptance of issue 18, item 2, through the CLI: readers warn, the next launch warns and
    re-runs exactly the affected episodes, then each is counted once in every table."""
    ensure_ray()
    res = tmp_path / "r"
    argv = ["launch", f"results_dir={res}", "sweep.limit=8", "cluster.flush_rows=1"]
    assert main([*argv, "--no-progress"]) == 0  # one commit (one part per table) per episode
    agents = sorted((res / "agents").glob("part-*.parquet"))
    transcripts = sorted((res / "transcripts").glob("part-*.parquet"))
    assert len(agents) == len(transcripts) >= 3  # episodes finishing together share one
    hit = _episodes_in(agents[0]) | _episodes_in(transcripts[-1])
    n = len(hit)
    assert 2 <= n < 8
    agents[0].write_bytes(agents[0].read_bytes()[: agents[0].stat().st_size // 2])
    transcripts[-1].write_bytes(b"garbage, not parquet")
    capsys.readouterr()

    for reader in (["query", str(res), "SELECT count(*) AS n FROM runs"], ["report", str(res)]):
        with pytest.warns(DamagedCommitWarning, match=rf"^{n} committed episode\(s\)"):
            assert main(reader) == 0
    capsys.readouterr()
    assert main(["check", str(res)]) == 1
    found = capsys.readouterr().out
    assert found.count("\nunreadable ") == 2 and found.count("\ndamaged ") == 2
    assert all(e in found for e in hit)

    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"warning: {n} committed episode(s) lost rows" in out
    assert f"8 planned, {8 - n} already committed, {n} to run" in out

    assert main(["check", str(res)]) == 1  # the two damaged files are still there ...
    found = capsys.readouterr().out
    assert found.count("\nunreadable ") == 2 and "\ndamaged " not in found  # ... but nothing lost
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedCommitWarning)  # nothing damaged any more
        warnings.simplefilter("ignore", StoreWarning)  # the two damaged files are still there
        results = load(str(res))
        runs = results.runs.collect()
        agents_rows = results.agents.collect()
        transcripts_rows = results.transcripts.collect()
    attempts = dict(zip(runs["episode_id"], runs["attempt"], strict=True))
    assert len(attempts) == runs.height == 8  # one row per episode (one step each)
    assert {e for e, a in attempts.items() if a == 2} == hit
    assert set(attempts.values()) == {1, 2}
    for table, frame, column in (
        ("agents", agents_rows, "n_agent_rows"),
        ("transcripts", transcripts_rows, "n_transcript_rows"),
    ):
        per_episode = frame.group_by("episode_id").len()
        counted = dict(zip(per_episode["episode_id"], per_episode["len"], strict=True))
        expected = dict(zip(runs["episode_id"], runs[column], strict=True))
        assert counted == expected, table  # every row once, none lost
