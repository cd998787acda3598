"""Tables fit 80- and 120-column terminals without cutting a number, whatever their columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.testing import CliRunner

import twin.report
from twin.cli import app
from twin.tables import fit, print_table

WIDTHS = (80, 120)
SHORT = ["--reps", "2", "--horizon", "2h", "--warmup", "0", "--workers", "1"]


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def _whole_cells(table: Table) -> list[str]:
    """The cells that must appear uncut: numbers (right-justified) and no-wrap columns."""
    return [
        _plain(cell)
        for column in table.columns
        if column.justify == "right" or column.no_wrap
        for cell in column.cells
    ]


def _assert_fits(output: str, width: int, tables: list[Table]) -> None:
    """No line wider than the terminal, no ellipsis, and every number printed whole."""
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in output
    assert tables, "no table was printed"
    for table in tables:
        for cell in _whole_cells(table):
            assert cell in output, f"{cell!r} is cut or missing at width {width}"


def _wide_table() -> Table:
    table = Table(title="twelve figures per row", caption="a caption")
    table.add_column("plan", no_wrap=True)
    for k in range(12):
        table.add_column(f"figure number {k} (units)", justify="right")
    for row in range(3):
        table.add_row(
            f"plan-{row}", *(f"{1234.5 * (k + row):,.2f} ± {k + 0.25:.2f}" for k in range(12))
        )
    return table


@pytest.mark.parametrize("width", WIDTHS)
def test_a_wide_table_is_split_and_repeats_its_key_column(width: int) -> None:
    """Twelve number columns are split into parts that each start with the key column."""
    table = _wide_table()
    console = Console(width=width, record=True, file=io.StringIO())
    parts = fit(console, table)
    assert len(parts) > 1
    for part in parts:
        assert part.columns[0].header == "plan"
        assert [_plain(c) for c in part.columns[0].cells] == ["plan-0", "plan-1", "plan-2"]
    shown = [h for part in parts for h in (c.header for c in part.columns[1:])]
    assert shown == [c.header for c in table.columns[1:]]
    print_table(console, table)
    text = console.export_text()
    _assert_fits(text, width, [table])
    # The title heads the first part, the others say they continue it; one caption.
    assert text.count("twelve figures per row") == 1
    assert f"(continued, 2/{len(parts)})" in text
    assert text.count("a caption") == 1


def test_a_table_that_fits_is_printed_unchanged() -> None:
    """A narrow table keeps its natural layout: one part, the very same table."""
    table = Table("KPI", "value")
    table.add_row("throughput", "47.80 ± 1.35")
    assert fit(Console(width=80), table) == [table]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Table]:
    """Every table the report prints, whatever columns it has today."""
    tables: list[Table] = []

    def record(console: Console, table: Table, keys: int = 1) -> None:
        tables.append(table)
        print_table(console, table, keys)

    monkeypatch.setattr(twin.report, "print_table", record)
    return tables


def _invoke(args: list[str], width: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_run_tables_fit(width: int, recorded: list[Table], tmp_path: Path) -> None:
    """`twin run` at 80 and 120 columns: every figure whole, the throughput as in the JSON."""
    doc_path = tmp_path / "results.json"
    output = _invoke(["run", "demo", *SHORT, "--json", str(doc_path)], width)
    _assert_fits(output, width, recorded)
    throughput = json.loads(doc_path.read_text())["line"]["throughput_per_hour"]
    assert f"{throughput['mean']:,.2f} ± {throughput['ci95_halfwidth']:,.2f}" in output


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_tables_fit(width: int, recorded: list[Table], tmp_path: Path) -> None:
    """`twin compare` at 80 and 120 columns: gains and money figures whole, NPV as in the JSON."""
    doc_path = tmp_path / "comparison.json"
    plans = ["--plan", "platform", "--plan", "platform+smed"]
    args = ["compare", "demo", *plans, *SHORT, "--out", str(tmp_path / "c")]
    output = _invoke([*args, "--json", str(doc_path)], width)
    _assert_fits(output, width, recorded)
    npv = json.loads(doc_path.read_text())["plans"]["platform+smed"]["economics"]["npv"]
    assert f"{npv['mean']:,.0f} ± {npv['ci95_halfwidth']:,.0f}" in output


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_tables_fit(width: int, recorded: list[Table], tmp_path: Path) -> None:
    """`twin sweep` over two parameters at 80 and 120 columns: every figure whole."""
    params = ["--param", "stations.IDGRIND.servers=2,3", "--param", "stations.WASH.servers=1,2"]
    output = _invoke(["sweep", "demo", *params, *SHORT, "--out", str(tmp_path / "s")], width)
    _assert_fits(output, width, recorded)


def test_pipes_get_wide_tables_unless_columns_is_set(
    recorded: list[Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without COLUMNS a pipe gets the station table whole, on one table of one part."""
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["run", "demo", *SHORT])
    assert result.exit_code == 0, result.output
    assert "(1/2)" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80
