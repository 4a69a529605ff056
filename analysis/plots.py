"""The report's figures (docs/design/paper.md section 10, Figs. 1-5), from collected tables.

Each ``draw`` function takes the DataFrame of a named query (``analysis.tables`` /
``analysis.emergence``, with ``Q_lo`` / ``Q_hi`` 95% CI columns where it has error bars, see
``analysis.figure_ci``) and returns a matplotlib ``Figure`` built with the object API on the
Agg canvas (no pyplot, no display). ``size`` is ``"column"`` (a paper column: 3.5 in, or the
7.16 in text width for small multiples) or ``"slide"`` (16:9). ``export`` writes a figure as
PNG (``DPI``) and SVG. Rules: bars start at 0, Q axes span Q's whole range [0.25, 1] (stated in
captions), one colour per protocol everywhere (``analysis.palette``), small multiples instead
of crowded axes, and a visible "synthetic (sim)" mark on every figure drawn from sim data.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from analysis import palette

POINTS = 4000
Q_RANGE = (0.25, 1.0)
DPI = {"column": 300, "slide": 200}
WIDTH = {"column": (3.5, 7.16), "slide": (13.33, 13.33)}  # one panel, small multiples
ROW_HEIGHT = {"column": 2.3, "slide": 3.6}
FONT = {"column": 7.0, "slide": 13.0}
SLIDE_HEIGHT = 7.5
MAX_COLS = {"column": 2, "slide": 4}
MAX_PANELS = 8
SIM_MARK = "synthetic (sim)"

Draw = Callable[[str], Any]

_CI = "error bars: 95% CIs, percentile bootstrap over tasks (analysis.figure_ci)"
_Q_AXIS = "Q axis: its whole range, 0.25-1"
CAPTIONS = {
    "quality_by_protocol": f"Mean Q per protocol arm, one panel per model; bars from 0; {_CI}.",
    "scaling_by_n": f"Mean Q against N per protocol arm; {_Q_AXIS}; bands: {_CI[12:]}.",
    "quality_by_level": f"Mean Q (left) and hierarchy depth (right) per task level; bars "
    f"from 0; Q {_CI}; depth bars are means without CIs.",
    "role_heatmap": "Role taken by each agent (row) in each task (column): the most used roles "
    "in colour (cell counts in the legend), the rest grouped as other roles.",
    "participation_vs_quality": f"One point per run step (thinned to {POINTS:,}); {_Q_AXIS}.",
}


def caption(name: str) -> str:
    """What a figure file shows, what its bars are, and the sim mark."""
    text = CAPTIONS.get(name.removesuffix(".png"), "")
    return f'{text} A figure drawn from sim data is marked "{SIM_MARK}".' if text else text


@contextmanager
def _style(size: str) -> Iterator[None]:
    import matplotlib

    # Role names are model-written: no mathtext parsing of "$...$" in any label.
    # SVG text stays text (editable, searchable), not glyph paths.
    rc: dict[str, Any] = {
        "font.size": FONT[size],
        "text.parse_math": False,
        "axes.titlesize": FONT[size],
        "svg.fonttype": "none",
    }
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        yield


def _figure(size: str, panels: int, sim: bool, title: str, cols: int | None = None) -> Any:
    """A figure of ``panels`` axes on a grid, its title and (for sim data) the sim mark."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cols = min(cols or MAX_COLS[size], panels)
    rows = -(-panels // cols)
    width = WIDTH[size][0 if panels == 1 else 1]
    height = ROW_HEIGHT[size] * rows + 0.7
    if size == "slide":
        height = max(height, SLIDE_HEIGHT)  # 16:9 at least
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[panels:]:
        ax.set_visible(False)
    # Left-aligned and wrapped short of the sim mark's corner, so the two never overlap.
    chars = int(width * 72 / (FONT[size] * 0.62)) - 22
    fig.suptitle(
        textwrap.fill(title, chars), fontsize=FONT[size] * 1.1, fontweight="bold", x=0.01, ha="left"
    )
    if sim:
        fig.text(
            0.995,
            0.995,
            SIM_MARK,
            ha="right",
            va="top",
            color="#B00020",
            fontweight="bold",
            fontsize=FONT[size],
            bbox={"facecolor": "white", "edgecolor": "#B00020", "boxstyle": "round,pad=0.2"},
        )
    fig.set_layout_engine("constrained", h_pad=0.06)
    return fig, axes[:panels]


def export(draw: Draw, name: str) -> dict[str, bytes]:
    """``name.png`` + ``name.svg`` at column size and ``name-slide.png`` at slide size."""
    stem = name.removesuffix(".png")
    out = {}
    for size, files in (("column", ("png", "svg")), ("slide", ("png",))):
        with _style(size):
            fig = draw(size)
            for fmt in files:
                buf = io.BytesIO()
                fig.savefig(buf, format=fmt, dpi=DPI[size], metadata=_metadata(fmt))
                out[f"{stem}{'-slide' if size == 'slide' else ''}.{fmt}"] = buf.getvalue()
                # The layout is solved; the next format reuses it (half the time of a save).
                fig.set_layout_engine("none")
    return out


def _metadata(fmt: str) -> dict[str, Any]:
    # No creation date: the same data gives the same bytes.
    return {"Date": None} if fmt == "svg" else {}


def _fixed(table: pl.DataFrame, factor: str) -> tuple[str, ...]:
    """The columns a table holds fixed while it compares ``factor`` (its strata: block,
    backend and the other design factors), one panel per combination."""
    from analysis.tables.paper import STRATA

    return tuple(k for k in STRATA[factor] if k in table.columns)


def _panels(df: pl.DataFrame, keys: Sequence[str]) -> list[tuple[str, pl.DataFrame]]:
    """Up to ``MAX_PANELS`` groups of ``keys`` (most rows first), labelled by the keys that vary."""
    parts = df.partition_by(list(keys), as_dict=True, maintain_order=True)
    varying = [k for k in keys if df[k].n_unique() > 1]
    ranked = sorted(parts.items(), key=lambda kv: (-kv[1].height, tuple(map(str, kv[0]))))
    ranked = sorted(ranked[:MAX_PANELS], key=lambda kv: tuple(map(str, kv[0])))
    out = []
    for key, part in ranked:
        label = ", ".join(f"{v}" for k, v in zip(keys, key, strict=True) if k in varying)
        out.append((label or ", ".join(map(str, key)), part))
    return out


def _err(df: pl.DataFrame, centre: str = "Q") -> list[list[float]] | None:
    if "Q_lo" not in df.columns:
        return None
    c, lo, hi = (df[x].to_list() for x in (centre, "Q_lo", "Q_hi"))
    return [
        [0.0 if v is None or a is None else v - a for v, a in zip(c, lo, strict=True)],
        [0.0 if v is None or b is None else b - v for v, b in zip(c, hi, strict=True)],
    ]


def quality_by_protocol(table: pl.DataFrame, *, sim: bool, size: str = "column") -> Any:
    """Fig. 1: mean Q per protocol arm (horizontal bars from 0, 95% CI), one panel per model
    (and block / role mode where they vary); ``table`` is ``protocol_comparison``."""
    panels = _panels(table, _fixed(table, "arm"))
    title = "Mean quality Q by protocol (95% CI), per model"
    fig, axes = _figure(size, len(panels), sim, title)
    arms = palette.order(table["arm"].unique().to_list())
    for ax, (label, df) in zip(axes, panels, strict=True):
        df = pl.DataFrame({"arm": arms}).join(df, on="arm", how="left")
        ys = list(range(len(arms)))[::-1]
        q = df["Q"].fill_null(0.0).to_list()
        ax.barh(
            ys,
            q,
            xerr=_err(df),
            color=[palette.colour(a) for a in arms],
            capsize=2,
            edgecolor="#333333",
            linewidth=0.4,
            error_kw={"elinewidth": 0.8},
        )
        ax.set_yticks(ys, arms)
        ax.set_xlim(0, 1)
        ax.set_xlabel("quality Q (0-1)")
        ax.set_title(label)
        ax.grid(axis="x", alpha=0.3)
    return fig


def scaling_by_n(table: pl.DataFrame, *, sim: bool, size: str = "column") -> Any:
    """Figs. 2 / Table VI: mean Q against N (log2 axis) with 95% CI bands, one line per
    protocol arm, one panel per model (and block / role mode where they vary); the y axis spans
    Q's range [0.25, 1]; ``table`` is ``scaling``."""
    panels = _panels(table, tuple(k for k in _fixed(table, "n_agents") if k != "arm"))
    title = "Mean quality Q against the number of agents N (95% CI bands), per model"
    fig, axes = _figure(size, len(panels), sim, title)
    arms = palette.order(table["arm"].unique().to_list())
    ns = sorted(table["n_agents"].unique().to_list())
    for ax, (label, df) in zip(axes, panels, strict=True):
        for arm in arms:
            sub = df.filter(pl.col("arm") == arm).sort("n_agents")
            if sub.is_empty():
                continue
            c = palette.colour(arm)
            ax.plot(
                sub["n_agents"],
                sub["Q"],
                marker=palette.marker(arm),
                ms=3,
                color=c,
                label=arm,
                linewidth=1.2,
            )
            if "Q_lo" in sub.columns and sub["Q_lo"].null_count() < sub.height:
                ax.fill_between(
                    sub["n_agents"],
                    sub["Q_lo"].fill_null(sub["Q"]),
                    sub["Q_hi"].fill_null(sub["Q"]),
                    color=c,
                    alpha=0.15,
                    linewidth=0,
                )
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_ylim(*Q_RANGE)
        ax.set_xlabel("agents N")
        ax.set_ylabel("quality Q")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    _legend(fig, axes, arms, size)
    return fig


def _legend(fig: Any, axes: list[Any], labels: list[str], size: str) -> None:
    """One legend for all panels (colours are the same in each), below them."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    shown = [lab for lab in labels if lab in handles]
    per = 1.7 if size == "column" else 2.6  # inches per legend column
    ncol = max(1, min(len(shown), int(fig.get_size_inches()[0] / per)))
    fig.legend(
        [handles[x] for x in shown], shown, loc="outside lower center", ncol=ncol, frameon=False
    )


def quality_and_depth_by_level(table: pl.DataFrame, *, sim: bool, size: str = "column") -> Any:
    """Fig. 3: per block, mean Q per task level (bars from 0, 95% CI) beside the mean
    hierarchy depth per level (bars from 0); ``table`` is ``quality_by_level``."""
    panels = _panels(table, _fixed(table, "level"))[: MAX_PANELS // 2]
    title = "Quality Q (95% CI) and hierarchy depth by task level"
    fig, axes = _figure(size, 2 * len(panels), sim, title, cols=2)
    for i, (label, df) in enumerate(panels):
        df = df.sort("level")
        levels = df["level"].to_list()
        q_ax, d_ax = axes[2 * i], axes[2 * i + 1]
        # Greys: the protocol colours are reserved for protocols.
        q_ax.bar(levels, df["Q"], yerr=_err(df), color="#666666", capsize=2)
        q_ax.set_ylim(0, 1)
        q_ax.set_ylabel("quality Q")
        q_ax.set_title(f"{label}: quality")
        d_ax.bar(levels, df["HD"].fill_null(0.0), color="#AAAAAA")
        d_ax.set_ylim(0, max(2.0, float(df["HD"].fill_null(0).max() or 0) * 1.2))  # type: ignore[arg-type]
        d_ax.set_ylabel("mean hierarchy depth")
        d_ax.set_title(f"{label}: hierarchy depth")
        for ax in (q_ax, d_ax):
            ax.set_xlabel("task level")
            ax.grid(axis="y", alpha=0.3)
    return fig


TOP_ROLES = len(palette.ROLE_COLOURS)


def role_heatmap(matrix: pl.DataFrame, title: str, *, sim: bool, size: str = "column") -> Any:
    """Fig. 4: agents (rows) x tasks (columns); cell colour = the role taken, for the
    ``TOP_ROLES`` most used roles (legend with counts), the rest grouped as "other roles";
    black = voluntary abstention, white = not participating for another reason; ``matrix`` is
    ``role_matrix``."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    active = matrix.filter(pl.col("participate") & (pl.col("role_norm") != ""))
    counts = active.group_by("role_norm").len().sort(["len", "role_norm"], descending=[True, False])
    top = counts.head(TOP_ROLES)["role_norm"].to_list()
    n_other = counts.height - len(top)
    index = {r: i for i, r in enumerate(top)}
    k = len(top)
    n_agents = int(matrix["agent"].max()) + 1  # type: ignore[arg-type]
    n_tasks = int(matrix["task"].max()) + 1  # type: ignore[arg-type]
    grid = np.full((n_agents, n_tasks), k + 2, dtype=float)  # not asked / absent
    for agent, task, role, part, why in matrix.select(
        "agent", "task", "role_norm", "participate", "abstain_reason"
    ).iter_rows():
        if part and role:
            grid[agent, task] = index.get(role, k)
        elif not part and why == "voluntary":
            grid[agent, task] = k + 1
    colours = [*palette.ROLE_COLOURS[:k], palette.OTHER, "#222222", "#FFFFFF"]
    fig, (ax,) = _figure(size, 1, sim, title, cols=1)
    if size == "column":
        fig.set_size_inches(WIDTH["column"][1], max(2.6, min(8.0, 0.05 * n_agents + 2.0)))
    ax.imshow(
        grid,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=k + 2.5,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_xticks(range(n_tasks))
    ax.set_xlabel("task (step order)")
    ax.set_ylabel("agent")
    n_by = dict(zip(counts["role_norm"], counts["len"], strict=True))
    labels = [f"{_short(r)} ({n_by[r]})" for r in top]
    if n_other:
        labels.append(f"other roles ({n_other} names, {sum(counts['len'][k:])} cells)")
    labels += ["abstained (voluntary)", "not participating (other)"]
    patch_colours = colours[:k] + ([palette.OTHER] if n_other else []) + colours[k + 1 :]
    handles = [Patch(facecolor=c, edgecolor="#666666", linewidth=0.4) for c in patch_colours]
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title="role (cells)",
    )
    return fig


def _short(role: str, n: int = 28) -> str:
    return role if len(role) <= n else role[: n - 1] + "…"


def participation_vs_quality(points: pl.DataFrame, *, sim: bool, size: str = "column") -> Any:
    """Fig. 5 (left): participation rate against Q per run step, one colour and marker per
    protocol, thinned to ``POINTS``; legend outside the axes; ``points`` is ``participation``."""
    points = points.filter(pl.col("quality").is_not_null())
    if points.height > POINTS:
        points = points.gather_every(points.height // POINTS + 1)
    title = "Participation rate against quality Q, one point per run step"
    fig, (ax,) = _figure(size, 1, sim, title, cols=1)
    protocols = palette.order(points["protocol"].unique().to_list())
    for protocol in protocols:
        sub = points.filter(pl.col("protocol") == protocol)
        ax.scatter(
            sub["participation"],
            sub["quality"],
            marker=palette.marker(protocol),
            s=10,
            alpha=0.55,
            color=palette.colour(protocol),
            label=protocol,
            linewidths=0,
        )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(*Q_RANGE)
    ax.set_xlabel("participation rate (participating / active agents)")
    ax.set_ylabel("quality Q")
    ax.grid(alpha=0.3)
    _legend(fig, [ax], protocols, size)
    return fig
