"""Every number the report prints has a CI or is a count (issue 14's acceptance): the tables of
``report.md`` and the entries of ``stats.json`` of a small sweep with several tasks, two seeds,
two steps and a shock are walked, and a bare number outside the declared counts and tests
fails (docs/design/inference.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from analysis.report import report as report_of
from analysis.tables.intervals import COUNTS, TESTS, is_count
from sweep.cli import main
from tests.unit.analysis.test_report import run_in_process

SWEEP = [
    "sweep.blocks.0.models=[llama31_8b]",
    "sweep.blocks.0.protocols=[sequential,broadcast]",
    "sweep.blocks.0.n_agents=[4]",
    "sweep.blocks.0.roles=[free]",
    "sweep.blocks.0.levels=[L1,L3]",
    "sweep.blocks.0.tasks_per_cell=3",
    "sweep.blocks.0.seeds=[0,1]",
    "sweep.blocks.0.steps=2",
    "+sweep.blocks.0.shock=[none,{kind:remove_random,k:1,at_step:1}]",
]
BARE = re.compile(r"^-?[\d,]*\.?\d+(e[-+]?\d+)?$")
WITH_CI = re.compile(r"^-?[\d,]*\.?\d+ \[(n/a|-?[\d,]*\.?\d+, -?[\d,]*\.?\d+)\]$")
NOT_ESTIMATES = {"p_value", "p_holm", "run_level_p", "min_attainable_p", "statistic", "alpha"}
PARTNER = {"mean_a": "ci_a", "mean_b": "ci_b", "delta": "ci", "estimate": "ci"}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = str(tmp_path_factory.mktemp("intervals") / "r")
    run_in_process(res, SWEEP)
    assert main(["report", res]) == 0
    return Path(res) / "report"


def tables(markdown: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """(section, header, cells) of every table row in a report.md."""
    section, header = "", None
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            section = line
        if not line.startswith("| "):
            header = None if not line.startswith("|:") else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if i + 1 < len(lines) and lines[i + 1].startswith("|:"):
            header = cells
        elif header is not None:
            yield section, header, cells


def bare_numbers(markdown: str) -> list[str]:
    """Cells holding a number with no CI, outside the count and test columns (a CI may also
    stand in the next column, named ``*_ci``, as the judge-reliability tables print it)."""
    return [
        f"{section}: {col}={cell}"
        for section, header, cells in tables(markdown)
        for i, (col, cell) in enumerate(zip(header, cells, strict=True))
        if BARE.match(cell)
        and not is_count(col)
        and col not in TESTS
        and not (i + 1 < len(header) and header[i + 1].endswith("_ci"))
    ]


def missing_cis(doc: Any, path: str = "") -> list[str]:
    """Float fields of stats.json entries that are estimates but carry no CI beside them."""
    out: list[str] = []
    if isinstance(doc, list):
        for i, v in enumerate(doc):
            out += missing_cis(v, f"{path}[{i}]")
    if not isinstance(doc, dict):
        return out
    for key, value in doc.items():
        where = f"{path}.{key}"
        if key == "means":  # omnibus group means: their CIs under "ci", by group
            out += [f"{where}.{g}" for g in value if g not in (doc.get("ci") or {})]
        elif isinstance(value, float) and key not in NOT_ESTIMATES:
            partner = PARTNER.get(key, f"{key}_ci")
            if not isinstance(doc.get(partner), list):
                out.append(where)
        elif value is None and f"{key}_ci" not in doc and key.startswith(("icc", "n_eff", "var")):
            out.append(where)
        else:
            out += missing_cis(value, where)
    return out


def test_every_number_in_report_md_has_a_ci_or_is_a_count(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert bare_numbers(md) == []
    shown = [cell for _, _, cells in tables(md) for cell in cells if WITH_CI.match(cell)]
    assert len(shown) > 100  # the walk saw the tables
    # Estimates once bare now carry intervals, from tasks resampled (several tasks here).
    for col in ("icc", "n_eff", "var_task", "var_seed", "gini", "unique_share", "Q_sd"):
        cells = [c for _, h, cs in tables(md) for k, c in zip(h, cs, strict=True) if k == col]
        assert cells and any(re.search(r"\[-?\d", c) for c in cells), col
    definitions = md.split("## Definitions", 1)[1]
    assert all(name in definitions for name in (*COUNTS, *TESTS))


def test_every_stats_json_estimate_carries_a_ci(report: Path) -> None:
    doc = json.loads((report / "stats.json").read_text())
    assert missing_cis(doc) == []
    omnibus = [e for e in doc["omnibus"] if "var_seed" in e]
    assert omnibus and all(len(e["var_seed_ci"]) == 2 for e in omnibus)
    assert doc["provenance"]["calls_estimated"] == doc["provenance"]["calls"] > 0


def test_the_intervals_are_reproducible(report: Path, tmp_path: Path) -> None:
    """Units are resampled in a fixed order: the same results give the same report."""
    again = report_of(str(report.parent), out_dir=str(tmp_path / "again"))
    assert (Path(again.out_dir) / "report.md").read_text() == (report / "report.md").read_text()
    assert (Path(again.out_dir) / "stats.json").read_text() == (report / "stats.json").read_text()


def test_the_walkers_catch_a_bare_number() -> None:
    md = (
        "## T\n\n| Q | runs | gini | icc | icc_ci |\n|:---|---:|---:|---:|:---|\n"
        "| 0.5 [0.4, 0.6] | 3 | 0.25 | 0.1 | [0.0, 0.2] |\n"
    )
    assert bare_numbers(md) == ["## T: gini=0.25"]
    assert missing_cis({"comparisons": [{"icc": 0.2, "d_z": 0.1, "d_z_ci": [0, 1]}]}) == [
        ".comparisons[0].icc"
    ]
