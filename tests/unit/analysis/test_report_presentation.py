"""The report's presentation: coverage banner and table of a partial sweep, table of contents,
Definitions links, collapsed tests tables, number formats, and the figures (PNG + SVG, bars
from 0, task-bootstrap CIs, one colour per protocol, the sim mark). No Ray: the sim results
are written in this process (``tests/sim_results.py``)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import pytest
from sim_results import write_sim_results

from analysis import figure_ci, numbers, palette, plots
from analysis._render import Section, render_html, render_md
from sweep.cli import main

SMALL = [
    "sweep=protocols",
    "sweep.blocks.0.seeds=[0]",
    "sweep.blocks.0.models=[llama33_70b]",
    "sweep.blocks.0.protocols=[broadcast,sequential]",
    "sweep.blocks.0.n_agents=[4,8]",
    "sweep.blocks.0.levels=[L3]",
    "sweep.blocks.0.tasks_per_cell=3",
]


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    res = tmp_path_factory.mktemp("partial") / "r"
    planned = write_sim_results(str(res), SMALL, keep=5)  # 5 of 12 planned episodes
    assert main(["report", str(res)]) == 0
    return res / "report", planned


def test_partial_sweep_report_shows_coverage_banner_and_table(partial) -> None:
    out, planned = partial
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    banner = f"Partial sweep: 5 of {planned} planned episodes committed ok (41.7%), 0 failed"
    assert banner in md and banner in page
    coverage = md.split("## Coverage", 1)[1].split("\n## ", 1)[0]
    # Per block, then the thin cells: the plan's first 5 episodes fill some cells only.
    assert "| protocols | 4 | 12 | 5 | 0 |" in coverage
    thin = coverage.split("### Thin cells", 1)[1]
    rows = [line for line in thin.splitlines() if line.startswith("| protocols")]
    assert 1 <= len(rows) <= 4
    assert all(float(r.split("|")[-2]) < 0.5 for r in rows)  # share column
    assert '<a href="#coverage">Coverage</a>' in page  # in the table of contents


def test_complete_sweep_has_no_coverage_banner(tmp_path: Path) -> None:
    res = tmp_path / "r"
    write_sim_results(str(res), [*SMALL, "sweep.blocks.0.tasks_per_cell=1"])
    assert main(["report", str(res)]) == 0
    md = (res / "report" / "report.md").read_text()
    assert "Partial sweep" not in md and "## Coverage" not in md


def _tests_table(n: int, significant: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "compared": [f"a{i} vs b{i}" for i in range(n)],
            "p": [1e-15 if i < significant else 0.5 for i in range(n)],
            "p_holm": [6.86e-15 if i < significant else 0.9 for i in range(n)],
            "delta_pct": [1.5, 1234.5, *([0.25] * (n - 2))],
        }
    )


def test_html_has_toc_definitions_links_collapsed_tables_and_whole_numbers() -> None:
    head = {"title": "t", "lines": []}
    sections = [
        Section("Tests", "src", "Some caption.", _tests_table(30, 2)),
        Section("Tests", "src", "Same title twice.", _tests_table(3, 0)),
        Section("Definitions", "src", "- **Q**: quality"),
    ]
    page = render_html(head, sections, {})
    assert re.findall(r'<h2 id="([^"]+)"', page) == ["tests", "tests-2", "definitions"]
    assert page.count('href="#definitions">(Definitions)</a>') == 2  # not in Definitions itself
    assert "2 of 30 tests significant after Holm (p_holm &lt; 0.05)" in page
    assert page.count("<details>") == 1  # the 3-row table is not collapsed
    shown = page.split("<details>")[0].split("significant after Holm")[1]
    assert shown.count("<tr>") == 3  # header + the 2 significant rows
    assert "6.9×10<sup>−15</sup>" in page and "e-15" not in page
    assert '<td class="t">a0 vs b0</td>' in page  # text left, numbers right
    assert '<td class="n">1,234</td>' in page
    md = render_md(head, sections)
    assert "6.9e-15" in md and "- [Tests](#tests)" in md and "([Definitions](#definitions))" in md


def test_number_format_is_per_column_so_decimals_align() -> None:
    s = pl.Series([0.5, 12.25, None])
    f = numbers.formatter("Q", s, html_out=False)
    assert [f(v) for v in s] == ["0.500", "12.250", ""]
    big = pl.Series([3.0, 1234.0])
    assert [numbers.formatter("tokens", big, html_out=False)(v) for v in big] == ["3", "1,234"]
    p = numbers.formatter("p_holm", s, html_out=False)
    assert (p(0.0123), p(2.5e-7)) == ("0.012", "2.5e-7")


def test_bootstrap_resamples_tasks_not_run_steps() -> None:
    # Task A: 99 steps of Q = 1; task B: one step of Q = 0.25. Over tasks the mean is 0.625 and
    # a resample holds A twice, B twice or one of each: the CI spans [0.25, 1]. Over run steps it
    # would be a narrow interval near 0.99.
    runs = pl.DataFrame(
        {"arm": ["x"] * 100, "task_id": ["A"] * 99 + ["B"], "quality": [1.0] * 99 + [0.25]}
    )
    ci = figure_ci.task_bootstrap(runs, ["arm"])
    assert ci["Q_lo"][0] == pytest.approx(0.25) and ci["Q_hi"][0] == pytest.approx(1.0)
    one = figure_ci.task_bootstrap(runs.filter(pl.col("task_id") == "A"), ["arm"])
    assert one["Q_lo"][0] is None  # one task: no interval


def _table(arms: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "block": "b",
            "model": "m",
            "roles": "free",
            "arm": arms,
            "n_agents": 4,
            "Q": [0.6] * len(arms),
            "Q_lo": [0.55] * len(arms),
            "Q_hi": [0.65] * len(arms),
        }
    )


def test_figures_bars_from_zero_one_colour_per_protocol_and_sim_mark() -> None:
    from matplotlib.colors import to_hex

    arms = ["sequential", "broadcast", "clonal"]
    bars = plots.quality_by_protocol(_table(arms), sim=True)
    ax = bars.axes[0]
    assert ax.get_xlim() == (0.0, 1.0)
    bar_colour = {
        t.get_text(): to_hex(p.get_facecolor())
        for t, p in zip(
            ax.get_yticklabels(), sorted(ax.patches, key=lambda p: -p.get_y()), strict=True
        )
    }
    lines = plots.scaling_by_n(_table(arms).vstack(_table(arms).with_columns(n_agents=8)), sim=True)
    line_colour = {ln.get_label(): to_hex(ln.get_color()) for ln in lines.axes[0].get_lines()}
    assert bar_colour == line_colour == {a: palette.colour(a).lower() for a in arms}
    assert len(set(bar_colour.values())) == 3
    assert lines.axes[0].get_ylim() == plots.Q_RANGE


def test_export_writes_png_at_print_dpi_and_svg_with_the_sim_mark() -> None:
    from PIL import Image

    def draw(sim: bool) -> dict[str, bytes]:
        return plots.export(
            lambda size: plots.quality_by_protocol(_table(["coordinator"]), sim=sim, size=size),
            "quality_by_protocol.png",
        )

    files = draw(sim=True)
    assert set(files) == {
        "quality_by_protocol.png",
        "quality_by_protocol.svg",
        "quality_by_protocol-slide.png",
    }
    png = Image.open(io.BytesIO(files["quality_by_protocol.png"]))
    assert round(png.info["dpi"][0]) >= 200 and png.width == round(3.5 * 300)
    slide = Image.open(io.BytesIO(files["quality_by_protocol-slide.png"]))
    assert slide.width / slide.height == pytest.approx(16 / 9, rel=0.3)
    assert plots.SIM_MARK in files["quality_by_protocol.svg"].decode()
    assert plots.SIM_MARK not in draw(sim=False)["quality_by_protocol.svg"].decode()


def test_role_heatmap_legends_the_top_roles_and_groups_the_rest() -> None:
    roles = [f"role {i}" for i in range(30)]
    matrix = pl.DataFrame(
        {
            "agent": [*range(30), 0],
            "task": [0] * 30 + [1],
            "role_norm": [*roles, "role 0"],
            "participate": [True] * 30 + [False],
            "abstain_reason": [""] * 30 + ["voluntary"],
        }
    )
    fig = plots.role_heatmap(matrix, "t", sim=False)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "role 0 (1)"
    assert len(labels) == plots.TOP_ROLES + 3
    assert "other roles (21 names, 21 cells)" in labels
    assert labels[-2:] == ["abstained (voluntary)", "not participating (other)"]
