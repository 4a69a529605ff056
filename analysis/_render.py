"""Rendering of the report (``analysis.report``): the same sections to Markdown and to one
self-contained HTML page (figures inlined as base64 PNG), and the statistics entries to a
table. Captions use a small Markdown subset (`code`, **bold**, "- " bullets) that both
renderers understand; HTML is written directly, as parsing a 3,000-line Markdown report
takes seconds.

Layout for reading: a table of contents, banners (sim data, partial sweep), every caption
linked to the Definitions, numbers formatted per column (``analysis.numbers``), text columns
left- and numbers right-aligned, and long tables collapsed in ``<details>``: a tests table
shows its significant rows, any other its first ``SHOWN`` rows, above the collapsed whole.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from analysis import numbers
from analysis.plots import DPI as _DPI
from analysis.plots import caption as figure_caption

MAX_ROWS = 200
COLLAPSE_TESTS = 12  # tests tables longer than this are collapsed (significant rows shown)
COLLAPSE = 40  # other tables longer than this are collapsed (first SHOWN rows shown)
SHOWN = 20
DEFINITIONS = "Definitions"
DPI = _DPI["column"]


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


def anchors(sections: Iterable[Section]) -> list[str]:
    """A unique HTML id per section, from its title."""
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        base = re.sub(r"[^a-z0-9]+", "-", s.title.lower()).strip("-") or "section"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _banners(head: Mapping[str, Any]) -> list[str]:
    return [b for b in (head.get("banner"), head.get("partial")) if b]


def render_md(head: Mapping[str, Any], sections: Iterable[Section]) -> str:
    sections = list(sections)
    ids = anchors(sections)
    out = [f"# {head['title']}", ""]
    out += [line for b in _banners(head) for line in (f"> **{b}**", "")]
    out += [*(f"{line}\n" for line in head["lines"])]
    out += ["**Contents**", ""]
    out += [
        f"{'  ' * (s.level - 2)}- [{s.title}](#{a})" for s, a in zip(sections, ids, strict=True)
    ]
    out.append("")
    for s in sections:
        out += [f"{'#' * s.level} {s.title}", ""]
        if s.table is not None and s.table.is_empty():
            out += [f"_Omitted: {s.reason or 'no data'}._", ""]
            continue
        if s.source:
            out += [f"Source: `{s.source}`.", ""]
        if s.caption:
            link = "" if s.title == DEFINITIONS else " ([Definitions](#definitions))"
            out += [s.caption + link, ""]
        if s.table is not None:
            out += [_md_collapsed(s.table), ""]
        if s.figure:
            out += [f"![{s.title}]({s.figure})", "", f"_{figure_caption(s.figure)}_", ""]
    return "\n".join(out)


def render_html(
    head: Mapping[str, Any], sections: Iterable[Section], images: Mapping[str, bytes]
) -> str:
    sections = list(sections)
    ids = anchors(sections)
    out = [f"<h1>{_inline(head['title'])}</h1>"]
    out += [f'<p class="banner"><strong>{_inline(b)}</strong></p>' for b in _banners(head)]
    out += [f"<p>{_inline(line)}</p>" for line in head["lines"]]
    out.append(_toc(sections, ids))
    for s, a in zip(sections, ids, strict=True):
        out.append(f'<h{s.level} id="{a}">{_inline(s.title)}</h{s.level}>')
        if s.table is not None and s.table.is_empty():
            out.append(f"<p><em>Omitted: {_inline(s.reason or 'no data')}.</em></p>")
            continue
        if s.source:
            out.append(f"<p>Source: <code>{html.escape(s.source)}</code>.</p>")
        if s.caption:
            link = "" if s.title == DEFINITIONS else ' <a href="#definitions">(Definitions)</a>'
            out.append(_blocks(s.caption, link))
        if s.table is not None:
            out.append(_html_collapsed(s.table))
        if s.figure and s.figure in images:
            out.append(_figure(s, images))
    return _PAGE.format(title=html.escape(head["title"]), body="\n".join(out))


def _toc(sections: list[Section], ids: list[str]) -> str:
    items = []
    for s, a in zip(sections, ids, strict=True):
        cls = ' class="sub"' if s.level > 2 else ""
        items.append(f'<li{cls}><a href="#{a}">{_inline(s.title)}</a></li>')
    return f'<nav class="toc"><h2>Contents</h2><ul>{"".join(items)}</ul></nav>'


def _figure(s: Section, images: Mapping[str, bytes]) -> str:
    assert s.figure is not None
    png = images[s.figure]
    # Shown near its print size: PNG px / dpi = inches, at 1.4 x 96 CSS px per inch.
    width = round(int.from_bytes(png[16:20], "big") / DPI * 96 * 1.4)
    data = base64.b64encode(png).decode()
    alt = html.escape(s.title, quote=True)
    stem = s.figure.removesuffix(".png")
    files = ", ".join(f"<code>{n}</code>" for n in (s.figure, f"{stem}.svg", f"{stem}-slide.png"))
    note = _inline(figure_caption(s.figure))
    return (
        f'<figure><img alt="{alt}" width="{width}" src="data:image/png;base64,{data}">'
        f'<figcaption>{note} <a href="#definitions">(Definitions)</a> Files: {files}.'
        "</figcaption></figure>"
    )


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def _blocks(text: str, suffix: str = "") -> str:
    """Paragraphs and "- " bullet lists (continuation lines joined); ``suffix`` is HTML."""
    items = re.split(r"\n(?=- )", text.strip())
    if not text.lstrip().startswith("- "):
        return f"<p>{_inline(text)}{suffix}</p>"
    lis = "".join(f"<li>{_inline(item[2:].replace(chr(10), ' '))}</li>" for item in items)
    return f"<ul>{lis}</ul>" + (f"<p>{suffix}</p>" if suffix else "")


def _split(df: pl.DataFrame) -> tuple[pl.DataFrame, str] | None:
    """For a long table: the rows shown above the collapsed whole, and what they are."""
    tests = "p_holm" in df.columns
    if df.height <= (COLLAPSE_TESTS if tests else COLLAPSE):
        return None
    if tests:
        sig = numbers.significant(df)
        return sig, (
            f"{sig.height} of {df.height} tests significant after Holm "
            f"(p_holm < {numbers.SIGNIFICANT})"
        )
    return df.head(SHOWN), f"first {SHOWN} of {df.height} rows"


def _html_collapsed(df: pl.DataFrame) -> str:
    split = _split(df)
    if split is None:
        return _html_table(df)
    shown, what = split
    top = _html_table(shown) if not shown.is_empty() else ""
    return (
        f"<p><em>{html.escape(what)}:</em></p>{top}"
        f"<details><summary>All {df.height} rows</summary>{_html_table(df)}</details>"
    )


def _md_collapsed(df: pl.DataFrame) -> str:
    split = _split(df)
    if split is None:
        return _md_table(df)
    shown, what = split
    top = _md_table(shown) + "\n\n" if not shown.is_empty() else ""
    return (
        f"_{what}:_\n\n{top}<details><summary>All {df.height} rows</summary>\n\n"
        f"{_md_table(df)}\n\n</details>"
    )


def _html_table(df: pl.DataFrame) -> str:
    shown = df.head(MAX_ROWS)
    fmts = [numbers.formatter(c, shown[c], html_out=True) for c in shown.columns]
    kinds = ["n" if numbers.is_numeric(shown[c]) else "t" for c in shown.columns]
    th = "".join(
        f'<th class="{k}">{html.escape(c)}</th>' for c, k in zip(shown.columns, kinds, strict=True)
    )
    rows = []
    for row in shown.iter_rows():
        tds = []
        for c, v, f, k in zip(shown.columns, row, fmts, kinds, strict=True):
            text = f(v)
            # p cells are markup built from numbers (analysis.numbers); the rest is escaped.
            tds.append(
                f'<td class="{k}">{text if c in numbers.P_COLUMNS else html.escape(text)}</td>'
            )
        rows.append("<tr>" + "".join(tds) + "</tr>")
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
    fmts = [numbers.formatter(c, shown[c], html_out=False) for c in shown.columns]
    align = ["---:" if numbers.is_numeric(shown[c]) else ":---" for c in shown.columns]
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "|".join(align) + "|"]
    for row in shown.iter_rows():
        cells = (f(v).replace("|", "\\|") for f, v in zip(fmts, row, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    if df.height > MAX_ROWS:
        lines.append(f"\n_First {MAX_ROWS} of {df.height} rows; run the source query for all._")
    return "\n".join(lines)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
  color: #222; line-height: 1.4; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 2px 6px; }}
th {{ background: #f2f2f2; }}
.t {{ text-align: left; }}
.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.banner {{ background: #fff3cd; border-left: 6px solid #e0a800; margin: 1em 0;
  padding: 0.6em 1em; }}
nav.toc {{ background: #f7f7f9; border: 1px solid #ddd; padding: 0.4em 1.2em; columns: 2; }}
nav.toc h2 {{ margin: 0.3em 0; column-span: all; font-size: 1.1em; }}
nav.toc ul {{ margin: 0; padding-left: 1em; }}
nav.toc li.sub {{ margin-left: 1.2em; font-size: 0.92em; }}
figure {{ margin: 0.5em 0 1.5em; }}
figure img {{ max-width: 100%; height: auto; border: 1px solid #eee; }}
figcaption {{ font-size: 0.85em; color: #444; max-width: 900px; }}
details {{ margin: 0 0 1.5em; }}
summary {{ cursor: pointer; color: #0b5394; }}
code {{ background: #f4f4f4; padding: 0 3px; }}
</style></head><body>
{body}
</body></html>
"""
