"""The whole loop on a local Ray: launch, summary, resume, lost part files, determinism,
and the same `runs` table through Polars, pyarrow and DuckDB."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest

from analysis import load
from sweep.cli import main
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration

SMALL = ["sweep.limit=12", "cluster.flush_rows=60", "--no-progress"]


def _launch(results: str, *extra: str) -> int:
    return main(["launch", f"results_dir={results}", *SMALL, *extra])


def _runs(results: str) -> pl.DataFrame:
    cols = [
        "episode_id",
        "step",
        "protocol",
        "quality",
        "accuracy",
        "completeness",
        "n_participating",
        "n_unique_roles",
        "llm_calls",
    ]
    return load(results).runs.select(cols).sort("episode_id", "step").collect()


def _roles(results: str) -> pl.DataFrame:
    return (
        load(results)
        .agents.select("episode_id", "step", "agent", "role", "participate")
        .sort("episode_id", "step", "agent")
        .collect()
    )


def test_launch_resume_and_lost_parts(ray_local, tmp_path: Path, capsys) -> None:
    res = str(tmp_path / "r")
    assert _launch(res) == 0
    out = capsys.readouterr().out
    assert "12 to run" in out and "ran 12 ok" in out and "mean per model and protocol" in out
    assert "synthetic backend" in out
    first = _runs(res)
    assert first.height == 12 and first["quality"].is_between(0.25, 1.0).all()
    assert set(first["protocol"]) == {"coordinator", "sequential", "broadcast", "shared"}
    assert (Path(res) / "plan_cost.json").is_file()  # the plan's cost estimate, at launch

    # Again: nothing to run.
    assert _launch(res) == 0
    assert "Nothing to run" in capsys.readouterr().out
    assert _runs(res).equals(first)

    # Lose one runs part: exactly its episodes run again, nothing is counted twice.
    store = ResultStore(res)
    parts = store.parts("runs")
    assert len(parts) >= 2
    lost = set(pl.read_parquet(parts[0])["episode_id"])
    Path(parts[0]).unlink()
    assert _launch(res) == 0
    assert f"{len(lost)} to run" in capsys.readouterr().out
    added = sorted(set(ResultStore(res).parts("runs")) - set(parts))
    new = pl.read_parquet(added)["episode_id"]
    assert set(new) == lost and new.len() == len(lost)
    again = _runs(res)
    assert again.equals(first)
    agents = load(res).agents.collect()
    assert agents.select("episode_id", "step", "agent").is_duplicated().sum() == 0


def test_same_config_same_results_on_a_fresh_run(ray_local, tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert _launch(a) == 0 and _launch(b) == 0
    assert _runs(a).equals(_runs(b))
    assert _roles(a).equals(_roles(b))


def test_runs_reads_the_same_in_polars_pyarrow_and_duckdb(ray_local, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    res = str(tmp_path / "r")
    assert _launch(res) == 0
    files = ResultStore(res).parts("runs")
    cols = "episode_id, step, quality, n_agents, protocol, builds"
    p = pl.read_parquet(files).sort("episode_id", "step")
    a = pl.from_arrow(ds.dataset(files).to_table()).sort("episode_id", "step")
    d = duckdb.sql(f"SELECT * FROM read_parquet({files!r}) ORDER BY episode_id, step").pl()
    assert p.shape == a.shape == d.shape
    assert p.equals(a)
    assert p.drop("finished_at").equals(d.drop("finished_at"))
    assert cols  # documented columns exist in all three


def test_progress_reports_episodes_in_flight_within_the_slots(ray_local, tmp_path: Path) -> None:
    import dataclasses

    from sweep.config import build, compose
    from sweep.execute import execute
    from sweep.plan import plan
    from sweep.results.store import BufferedWriter

    typed, _ = build(compose(["sweep.limit=40"]))
    cluster = dataclasses.replace(typed.cluster, runners=2, episodes_per_runner=None)
    seen: list[tuple[int, int]] = []
    writer = BufferedWriter(ResultStore(str(tmp_path / "r")), 10**6, 10**6)
    work = [(s, 1) for s in plan(typed).specs]
    prog = execute(
        work, writer, typed.backend, cluster, lambda p: seen.append((p.in_flight, p.slots))
    )
    assert prog.done == 40
    assert {slots for _, slots in seen} == {2 * 16}  # sim: 16 per runner (sweep.sizing)
    assert 0 < max(n for n, _ in seen) <= 32


def test_progress_fits_an_80_column_terminal() -> None:
    import io

    from rich.console import Console

    from sweep.execute import RunCounts
    from sweep.progress import LiveProgress

    # A terminal (the rich display; off a terminal it prints plain lines, sweep.progress).
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    with LiveProgress(48, console) as live:
        live.update(RunCounts(total=48, done=40, failed=1, in_flight=7, slots=32, tokens=9000))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert all(len(line) <= 80 for line in lines)
    assert any("episodes" in line and "41/48" in line for line in lines)
    assert any("ok 40 failed 1 pending 7 | in flight 7/32" in line for line in lines)
