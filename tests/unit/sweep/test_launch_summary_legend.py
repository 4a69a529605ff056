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
    out = buf.getvalue()
    line = next(ln for ln in out.splitlines() if "model" in ln and "calls" in ln)
    header = [c for c in line.replace("┃", " ").replace("|", " ").split() if c]
    assert header == ["model", "protocol", "runs", "Q", "M", "part", "roles", "depth", "calls"]
    legend = out[out.index(line) :]
    for column in header[2:]:
        assert f"{column} = " in legend, column
