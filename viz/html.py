"""A self-contained HTML page: inline style, tables, charts as data URIs, nothing fetched.

The tables are the terminal's (``twin.report``), converted cell by cell, so the page shows
the very figures ``twin run``, ``twin compare`` and ``twin sweep`` print.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from pathlib import Path

from rich.table import Table
from rich.text import Text

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f4f4f4; } td.num { text-align: right; white-space: nowrap; }
p.note { font-size: 0.8em; color: #555; white-space: pre-line; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; }
"""


def _plain(value: object) -> str:
    """The text of a rich renderable or markup string, without its styles."""
    if isinstance(value, Text):
        return value.plain
    if isinstance(value, str):
        try:
            return Text.from_markup(value).plain
        except Exception:  # not markup after all: show it as written
            return value
    return "" if value is None else str(value)


def table(source: Table, ident: str) -> str:
    """One rich table as an HTML table (title as caption, caption as a note under it)."""
    columns = source.columns
    head = "".join(f"<th>{escape(_plain(c.header))}</th>" for c in columns)
    cells = [list(c.cells) for c in columns]
    rows = []
    for i in range(source.row_count):
        tds = []
        for column, values in zip(columns, cells, strict=True):
            cls = ' class="num"' if column.justify == "right" else ""
            tds.append(f"<td{cls}>{escape(_plain(values[i]))}</td>")
        rows.append(f"<tr>{''.join(tds)}</tr>")
    title = f"<caption>{escape(_plain(source.title))}</caption>" if source.title else ""
    note = f'<p class="note">{escape(_plain(source.caption))}</p>' if source.caption else ""
    return (
        f'<table id="{ident}">{title}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


@dataclass(frozen=True)
class Chart:
    """A chart written as a PNG file, and what the page says about it."""

    ident: str
    title: str
    path: Path
    caption: str


def figure(chart: Chart) -> str:
    """The chart inline, as a base64 data URI of its PNG file."""
    data = base64.b64encode(chart.path.read_bytes()).decode("ascii")
    return (
        f'<figure id="{chart.ident}"><img alt="{escape(chart.title)}" '
        f'src="data:image/png;base64,{data}">'
        f"<figcaption><b>{escape(chart.title)}.</b> {escape(chart.caption)}</figcaption></figure>"
    )


def page(title: str, sections: list[tuple[str, str, list[str]]]) -> str:
    """The whole page: sections of (id, heading, HTML parts)."""
    body = "".join(
        f'<section id="{ident}"><h2>{escape(heading)}</h2>{"".join(parts)}</section>'
        for ident, heading, parts in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def heading(text: str) -> str:
    return f"<h3>{escape(text)}</h3>"


def paragraph(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'
