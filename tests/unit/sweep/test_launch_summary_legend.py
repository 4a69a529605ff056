"""The summary table ``orgsweep launch`` prints ends with a legend naming every column."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console
from sim_results import write_sim_results

from analysis import load
from sweep.cli.launch import _print_summary


def test_summary_legend_explains_every_column(tmp_path: Path, capsys) -> None:
    res = str(tmp_path / "r")
    write_sim_results(res, ["sweep=smoke", "sweep.blocks.0.tasks_per_cell=1"])
    results = load(res)
    ids = set(results.runs.select("episode_id").collect()["episode_id"])
    buf = io.StringIO()
    typed = SimpleNamespace(name="smoke", backend=SimpleNamespace(name="sim"))
    _print_summary(results, ids, typed, Console(file=buf, width=400))  # type: ignore[arg-type]
    table = capsys.readouterr().out
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    assert header == ["model", "protocol", "runs", "Q", "M", "part", "roles", "depth", "calls"]
    legend = buf.getvalue()
    for column in header[2:]:
        assert f"{column} = " in legend, column
