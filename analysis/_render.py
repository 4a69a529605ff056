"""Rendering of the report (``analysis.report``): the same sections to Markdown and to one
self-contained HTML page (figures inlined as base64 PNG), and the statistics entries to a
table. Captions use a small Markdown subset (`code`, **bold**, "- " bullets) that both
renderers understand; HTML is written directly, as parsing a 3,000-line Markdown report
takes seconds."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

MAX_ROWS = 200
P_COLUMNS = {"p", "p_value", "p_holm", "mwu_p", "welch_p", "p_run_level"}


@dataclass(frozen=True)
class Section:
    """A heading, the query its numbers come from (``source``), a caption, and a table, an
    omission ``reason`` (used when the table is empty) and/or a figure file name."""

    title: str
    source: str = ""
    caption: str = ""
    table: pl.DataFrame | None = None
    reason: str | None = None
    figure: str | None = None
    level: int = 2


def render_md(head: Mapping[str, Any], sections: Iterable[Section]) -> str:
    out = [f"# {head['title']}", ""]
    if head.get("banner"):
        out += [f"> **{head['banner']}**", ""]
    out += [*(f"{line}\n" for line in head["lines"])]
    for s in sections:
        out += [f"{'#' * s.level} {s.title}", ""]
        if s.table is not None and s.table.is_empty():
            out += [f"_Omitted: {s.reason or 'no data'}._", ""]
            continue
        if s.source:
            out += [f"Source: `{s.source}`.", ""]
        if s.caption:
            out += [s.caption, ""]
        if s.table is not None:
            out += [_md_table(s.table), ""]
        if s.figure:
            out += [f"![{s.title}]({s.figure})", ""]
    return "\n".join(out)


def render_html(
    head: Mapping[str, Any], sections: Iterable[Section], images: Mapping[str, bytes]
) -> str:
    out = [f"<h1>{_inline(head['title'])}</h1>"]
    if head.get("banner"):
        out.append(f'<p class="banner"><strong>{_inline(head["banner"])}</strong></p>')
    out += [f"<p>{_inline(line)}</p>" for line in head["lines"]]
    for s in sections:
        out.append(f"<h{s.level}>{_inline(s.title)}</h{s.level}>")
        if s.table is not None and s.table.is_empty():
            out.append(f"<p><em>Omitted: {_inline(s.reason or 'no data')}.</em></p>")
            continue
        if s.source:
            out.append(f"<p>Source: <code>{html.escape(s.source)}</code>.</p>")
        if s.caption:
            out.append(_blocks(s.caption))
        if s.table is not None:
            out.append(_html_table(s.table))
        if s.figure and s.figure in images:
            data = base64.b64encode(images[s.figure]).decode()
            alt = html.escape(s.title, quote=True)
            out.append(f'<p><img alt="{alt}" src="data:image/png;base64,{data}"></p>')
    return _PAGE.format(title=html.escape(head["title"]), body="\n".join(out))


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _blocks(text: str) -> str:
    """Paragraphs and "- " bullet lists (continuation lines joined)."""
    items = re.split(r"\n(?=- )", text.strip())
    if not text.lstrip().startswith("- "):
        return f"<p>{_inline(text)}</p>"
    lis = "".join(f"<li>{_inline(item[2:].replace(chr(10), ' '))}</li>" for item in items)
    return f"<ul>{lis}</ul>"


def _html_table(df: pl.DataFrame) -> str:
    shown = df.head(MAX_ROWS)
    th = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    rows = [
        "<tr>"
        + "".join(
            f"<td>{html.escape(_cell(c, v))}</td>" for c, v in zip(shown.columns, row, strict=True)
        )
        + "</tr>"
        for row in shown.iter_rows()
    ]
    more = (
        f"<p><em>First {MAX_ROWS} of {df.height} rows; run the source query for all.</em></p>"
        if df.height > MAX_ROWS
        else ""
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def tests_table(entries: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per ``stats.json`` entry (omnibus or pairwise), in a common shape."""
    rows = []
    for e in entries:
        pair = "a" in e
        rows.append(
            {
                "stratum": ", ".join(f"{k}={v}" for k, v in e["stratum"].items()),
                "compared": f"{e['a']} vs {e['b']}" if pair else f"{e['k']} groups",
                "test": e["test"] + (" (paired)" if e.get("paired") else ""),
                "statistic": e["statistic"] if pair else e["H"],
                "n": f"{e['n_a']} / {e['n_b']}" if pair else str(e["n"]),
                "mean_a": e.get("mean_a"),
                "mean_b": e.get("mean_b"),
                "delta_pct": e.get("delta_pct"),
                "cohens_d": e.get("cohens_d"),
                "welch_p": e.get("welch_p"),
                "p": e["p_value"],
                "p_holm": e["p_holm"],
            }
        )
    schema = {
        "stratum": pl.String,
        "compared": pl.String,
        "test": pl.String,
        "statistic": pl.Float64,
        "n": pl.String,
        **dict.fromkeys(("mean_a", "mean_b", "delta_pct", "cohens_d"), pl.Float64),
        **dict.fromkeys(("welch_p", "p", "p_holm"), pl.Float64),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _md_table(df: pl.DataFrame) -> str:
    shown = df.head(MAX_ROWS)
    lines = [
        "| " + " | ".join(shown.columns) + " |",
        "|" + "|".join("---" for _ in shown.columns) + "|",
    ]
    for row in shown.iter_rows():
        cells = (_cell(c, v).replace("|", "\\|") for c, v in zip(shown.columns, row, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    if df.height > MAX_ROWS:
        lines.append(f"\n_First {MAX_ROWS} of {df.height} rows; run the source query for all._")
    return "\n".join(lines)


def _cell(column: str, v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if column in P_COLUMNS:
            return f"{v:.2e}" if v < 1e-3 else f"{v:.3f}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.3f}"
    return str(v)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
  color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; text-align: right; }}
th {{ background: #f2f2f2; }}
td:first-child, th:first-child {{ text-align: left; }}
.banner {{ background: #fff3cd; border-left: 6px solid #e0a800; margin: 1em 0;
  padding: 0.6em 1em; }}
img {{ max-width: 100%; }}
code {{ background: #f4f4f4; padding: 0 3px; }}
</style></head><body>
{body}
</body></html>
"""
