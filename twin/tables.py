"""Tables that fit the console: headers and text may wrap, numbers are never cut.

Rich shrinks a table that is too wide by cutting its columns, which can turn ``47.80 ± 1.35``
into ``47.80 ± 1…``. :func:`print_table` lays a table out itself instead: each column gets at
least the width of its longest header word and of its widest number, and when the columns
cannot all fit at those widths the table is split into several, each repeating the key
(first) columns, so every figure stays readable on an 80-column terminal.

Which cells must stay whole: those of right-justified columns (numbers) and of ``no_wrap``
columns. Other cells, and every header, may wrap between words.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

_UNLIMITED = 100_000


@dataclass(frozen=True)
class _Span:
    """The narrowest and the widest a column's content may be laid out."""

    narrowest: int
    widest: int


def print_table(console: Console, table: Table, keys: int = 1) -> None:
    """Print ``table`` within the console's width, split if need be (see the module doc).

    A split table's caption is printed once, under the last part, across the console's
    width rather than squeezed under a narrow part.
    """
    parts = fit(console, table, keys)
    caption = table.caption if len(parts) > 1 else None
    for part in parts:
        console.print(part)
    if caption is not None:
        console.print(caption, style="table.caption", justify="center")


def fit(console: Console, table: Table, keys: int = 1, width: int | None = None) -> list[Table]:
    """The tables that show ``table`` within ``width`` columns, numbers intact.

    ``keys`` first columns are repeated in every part when the table has to be split.
    """
    width = console.width if width is None else width
    spans = [_span(console, column) for column in table.columns]
    everything = list(range(len(table.columns)))
    if _table_width(console, table, everything, [s.widest for s in spans]) <= width:
        return [table]
    keys = min(keys, len(spans))
    groups = _groups(console, table, spans, keys, width)
    parts = [_laid_out(console, table, [*range(keys), *group], spans, width) for group in groups]
    return _titled(parts)


def _span(console: Console, column: Column) -> _Span:
    """How narrow a column may get without cutting a number or a word, and its natural width."""
    options = console.options.update_width(_UNLIMITED)
    header = Measurement.get(console, options, column.header)
    cells = [Measurement.get(console, options, cell) for cell in column.cells]
    whole = column.justify == "right" or column.no_wrap
    body = max((c.maximum if whole else c.minimum for c in cells), default=0)
    widest = max([header.maximum, *(c.maximum for c in cells)])
    narrowest = max(header.minimum, body)
    return _Span(narrowest, max(narrowest, widest))


def _groups(
    console: Console, table: Table, spans: Sequence[_Span], keys: int, width: int
) -> list[list[int]]:
    """Split the non-key columns, in order, into runs that fit beside the key columns."""
    key_columns = list(range(keys))
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(keys, len(spans)):
        trial = [*key_columns, *current, index]
        narrow = [spans[i].narrowest for i in trial]
        if current and _table_width(console, table, trial, narrow) > width:
            groups.append(current)
            current = []
        current.append(index)
    if current or not groups:
        groups.append(current)
    return groups


def _laid_out(
    console: Console, table: Table, indices: list[int], spans: Sequence[_Span], width: int
) -> Table:
    """The columns ``indices`` of ``table`` with fixed widths that fill at most ``width``."""
    narrow = [spans[i].narrowest for i in indices]
    spare = width - _table_width(console, table, indices, narrow)
    widths = _spread(max(spare, 0), narrow, [spans[i].widest for i in indices])
    return _subtable(table, indices, widths)


def _spread(spare: int, narrow: list[int], wide: list[int]) -> list[int]:
    """Share spare columns out, smallest needs first, so that short headers unwrap whole."""
    widths = list(narrow)
    order = sorted(range(len(widths)), key=lambda i: wide[i] - narrow[i])
    for left, i in enumerate(order):
        give = min(wide[i] - widths[i], spare // (len(order) - left))
        widths[i] += give
        spare -= give
    return widths


def _table_width(console: Console, table: Table, indices: list[int], widths: list[int]) -> int:
    """Rendered width of the columns ``indices`` at content ``widths``, borders and padding in."""
    options = console.options.update_width(_UNLIMITED)
    return Measurement.get(console, options, _subtable(table, indices, widths)).maximum


def _subtable(table: Table, indices: list[int], widths: list[int]) -> Table:
    """A copy of ``table`` with only the columns ``indices``, at fixed content ``widths``."""
    part = copy.copy(table)
    part.columns = [
        replace(table.columns[i], width=w, _index=position)
        for position, (i, w) in enumerate(zip(indices, widths, strict=True))
    ]
    return part


def _titled(parts: list[Table]) -> list[Table]:
    """Number the parts of a split table: the first keeps the title, the others say they
    continue it (a long title would wrap into a tall column over a narrow part); no part
    keeps the caption, which :func:`print_table` prints once."""
    if len(parts) == 1:
        return parts
    for number, part in enumerate(parts, 1):
        suffix = f" ({number}/{len(parts)})"
        if number == 1 and isinstance(part.title, str | Text):
            part.title = part.title + suffix
        elif number > 1:
            part.title = f"(continued, {number}/{len(parts)})"
        part.caption = None
    return parts
