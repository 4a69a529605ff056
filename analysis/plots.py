"""The report's figures (docs/design/paper.md section 10, Figs. 1-5) as PNG bytes, from collected
tables.

Each function takes the DataFrame of a named query (``analysis.tables`` / ``analysis.emergence``)
and draws it with matplotlib's object API on the Agg canvas (no pyplot, no global state, no
display). Figures stay small: at most ``PANELS`` blocks (those where the plotted factor takes
the most values), scatter plots thinned to ``POINTS``, legends at fixed places.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import polars as pl

PANELS = 2
POINTS = 4000
MARKERS = {"sequential": "o", "coordinator": "s"}
OTHER_MARKERS = "^v<>DPX*h"
STYLES = ("-", "--", ":", "-.")


def _figure(panels: int, width: float = 5.0, height: float = 3.6) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * panels, height), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, list(axes)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _blocks(df: pl.DataFrame, factor: str) -> list[tuple[str, pl.DataFrame]]:
    """The ``PANELS`` blocks in which ``factor`` takes the most values (then most runs)."""
    parts = df.partition_by("block", as_dict=True, maintain_order=True)

    def rank(part: pl.DataFrame) -> tuple[int, float]:
        runs = part["runs"].sum() if "runs" in part.columns else part.height
        return (-part[factor].n_unique(), -float(runs))

    ranked = sorted(parts.items(), key=lambda kv: rank(kv[1]))
    return [(str(k[0]), v) for k, v in ranked[:PANELS]]


def quality_by_protocol(table: pl.DataFrame) -> bytes:
    """Fig. 1: mean Q per protocol arm (bars, +- SD), one bar per model, one panel per block;
    ``table`` is ``protocol_comparison``."""
    blocks = _blocks(table, "arm")
    fig, axes = _figure(len(blocks))
    for ax, (block, df) in zip(axes, blocks, strict=True):
        arms = df.group_by("arm").agg(pl.col("Q").mean()).sort("Q", descending=True)["arm"]
        models = sorted(df["model"].unique())
        width = 0.8 / len(models)
        for i, model in enumerate(models):
            sub = df.filter(pl.col("model") == model)
            q = dict(zip(sub["arm"], sub["Q"], strict=True))
            sd = dict(zip(sub["arm"], sub["Q_sd"].fill_null(0), strict=True))
            xs = [j + i * width for j in range(len(arms))]
            ax.bar(
                xs,
                [q.get(a, 0) for a in arms],
                width,
                yerr=[sd.get(a, 0) for a in arms],
                label=model,
                capsize=2,
            )
        ticks = [j + 0.4 - width / 2 for j in range(len(arms))]
        ax.set_xticks(ticks, list(arms), rotation=40, ha="right", fontsize=8)
        ax.set_ylim(0.25, 1.0)
        ax.set_ylabel("quality Q")
        ax.set_title(block, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def scaling_by_n(table: pl.DataFrame) -> bytes:
    """Figs. 2 / Table VI: mean Q against N (log scale), one line per (arm, model), one panel
    per block; ``table`` is ``scaling``."""
    blocks = _blocks(table, "n_agents")
    fig, axes = _figure(len(blocks))
    for ax, (block, df) in zip(axes, blocks, strict=True):
        arms = sorted(df["arm"].unique())
        models = sorted(df["model"].unique())
        for (arm, model), sub in sorted(df.partition_by("arm", "model", as_dict=True).items()):
            sub = sub.sort("n_agents")
            ax.plot(
                sub["n_agents"],
                sub["Q"],
                marker="o",
                ms=3,
                color=f"C{arms.index(arm) % 10}",
                linestyle=STYLES[models.index(model) % len(STYLES)],
                label=f"{arm} / {model}",
            )
        ns = sorted(df["n_agents"].unique())
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("agents N")
        ax.set_ylabel("quality Q")
        ax.set_title(block, fontsize=9)
        ncol = 1 if max(len(f"{a} / {m}") for a in arms for m in models) > 32 else 2
        ax.legend(fontsize=6, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.24))
    return _png(fig)


def quality_and_depth_by_level(table: pl.DataFrame) -> bytes:
    """Fig. 3: mean Q per level (bars) and mean hierarchy depth (line, right axis), one panel
    per block; ``table`` is ``quality_by_level``."""
    blocks = _blocks(table, "level")
    fig, axes = _figure(len(blocks), width=4.0)
    for ax, (block, df) in zip(axes, blocks, strict=True):
        df = df.sort("level")
        levels = df["level"].to_list()
        ax.bar(levels, df["Q"], yerr=df["Q_sd"].fill_null(0), color="#4c72b0", capsize=2)
        ax.set_ylim(0.25, 1.0)
        ax.set_ylabel("quality Q")
        depth = ax.twinx()
        depth.plot(levels, df["HD"], color="#dd8452", marker="o")
        depth.set_ylim(0, max(2.0, float(df["HD"].fill_null(0).to_numpy().max()) * 1.2))
        depth.set_ylabel("hierarchy depth", color="#dd8452")
        ax.set_title(block, fontsize=9)
    return _png(fig)


def role_heatmap(matrix: pl.DataFrame, title: str) -> bytes:
    """Fig. 4: agents (rows) x tasks (columns); cell colour = the role taken (one colour per
    distinct role), x = voluntary abstention, grey = not participating for another reason;
    ``matrix`` is ``role_matrix``."""
    import numpy as np

    n_agents = int(matrix["agent"].to_numpy().max()) + 1
    n_tasks = int(matrix["task"].to_numpy().max()) + 1
    grid = np.full((n_agents, n_tasks), np.nan)
    for agent, task, role, part in matrix.select(
        "agent", "task", "role_norm", "participate"
    ).iter_rows():
        if part and role:
            # A stable colour per role name, spread over the colour map.
            grid[agent, task] = zlib.crc32(role.encode()) % 997 / 997
    size = (max(4.0, 0.5 * n_tasks + 3), max(3.0, 0.22 * n_agents + 1))
    fig, (ax,) = _figure(1, width=size[0], height=size[1])
    ax.imshow(grid, cmap="tab20", aspect="auto", interpolation="nearest")
    idle = matrix.filter(~pl.col("participate"))
    vol = idle.filter(pl.col("abstain_reason") == "voluntary")
    other = idle.filter(pl.col("abstain_reason") != "voluntary")
    ax.scatter(vol["task"], vol["agent"], marker="x", color="black", s=30, label="voluntary")
    ax.scatter(other["task"], other["agent"], marker="s", color="0.7", s=30, label="not asked")
    ax.set_xlabel("task")
    ax.set_ylabel("agent")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def participation_vs_quality(points: pl.DataFrame) -> bytes:
    """Fig. 5 (left): participation rate against Q per run step, one marker per protocol
    (Sequential circles, Coordinator squares), thinned to ``POINTS``; ``points`` is
    ``participation``."""
    points = points.filter(pl.col("quality").is_not_null())
    if points.height > POINTS:
        points = points.gather_every(points.height // POINTS + 1)
    fig, (ax,) = _figure(1, width=6.0, height=4.0)
    others = iter(OTHER_MARKERS * 4)
    for (protocol,), sub in sorted(points.partition_by("protocol", as_dict=True).items()):
        marker = MARKERS.get(str(protocol)) or next(others)
        ax.scatter(
            sub["participation"], sub["quality"], marker=marker, s=12, alpha=0.5, label=protocol
        )
    ax.set_xlabel("participation rate (participating / active agents)")
    ax.set_ylabel("quality Q")
    ax.legend(fontsize=7, loc="lower left")
    return _png(fig)
