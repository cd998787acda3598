"""The JSON Schema of scenario files accepts what the loader accepts and refuses typos."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from scenarios.catalog import bundled
from scenarios.loader import load
from twin.cli import app

MINIMAL = """\
name: schema check
horizon: 2h
warmup: 90s
stations:
  - id: M1
    process_time: 45s
  - id: M2
    process_time: {dist: exponential, mean: 1.5min}
    failures:
      mtbf: 8h
      mttr: {dist: lognormal, mean: 20min, sd: 10min}
"""

PER_PRODUCT = """\
name: two products
products:
  - id: A
    route: [M1]
  - id: B
    route: [M1]
stations:
  - id: M1
    process_time:
      A: 30s
      B: {dist: uniform, low: 20s, high: 1min}
"""


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The schema written by `twin schema --out`, a real file."""
    path = tmp_path_factory.mktemp("schema") / "scenario.schema.json"
    result = CliRunner().invoke(app, ["schema", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def validator(schema_file: Path) -> Draft202012Validator:
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(document)]


def test_schema_is_draft_2020_12_and_refuses_unknown_fields(schema_file: Path) -> None:
    """The file declares draft 2020-12; every object of the format forbids extra fields."""
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in schema["$defs"].values())
    assert schema["required"] == ["name", "stations"]


def test_schema_on_stdout_is_the_same_document(schema_file: Path) -> None:
    """`twin schema` prints what `twin schema --out` writes."""
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(schema_file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(bundled()))
def test_every_bundled_scenario_is_valid(name: str, validator: Draft202012Validator) -> None:
    """Each bundled scenario, as written (duration strings, short forms), passes the schema."""
    document = yaml.safe_load(bundled()[name].read_text(encoding="utf-8"))
    assert _errors(validator, document) == []


@pytest.mark.parametrize("text", [MINIMAL, PER_PRODUCT], ids=["short-forms", "per-product"])
def test_files_the_loader_accepts_pass(
    text: str, validator: Draft202012Validator, scenario_file: Callable[[str], Path]
) -> None:
    """Short forms, durations in every unit and per-product tables pass the loader and schema."""
    load(scenario_file(text))
    assert _errors(validator, yaml.safe_load(text)) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["stations"][0].update(severs=2), ["stations", 0]),
        (lambda d: d.update(horizon="10q"), ["horizon"]),
        (lambda d: d.update(warmup="-5min"), ["warmup"]),
        (lambda d: d["stations"][0].update(process_time={"mean": 60}), ["stations", 0]),
        (lambda d: d["stations"][1].update(process_time={"dist": "exponential"}), ["stations", 1]),
        (lambda d: d["stations"][1].update(process_time={"dist": "poisson"}), ["stations", 1]),
        (lambda d: d["stations"][1]["failures"].update(basis="wall"), ["stations", 1, "failures"]),
    ],
    ids=[
        "unknown-field",
        "bad-unit",
        "negative",
        "untagged",
        "missing-mean",
        "unknown-dist",
        "bad-basis",
    ],
)
def test_mistakes_are_refused(
    change: Callable[[dict[str, Any]], None], where: list[Any], validator: Draft202012Validator
) -> None:
    """A misspelt field, a bad duration, a wrong distribution: refused, at that field."""
    document = yaml.safe_load(MINIMAL)
    change(document)
    paths = [list(e.absolute_path) for e in validator.iter_errors(document)]
    assert paths
    assert all(path[: len(where)] == where for path in paths), paths


def test_schema_out_refuses_a_folder(tmp_path: Path) -> None:
    """`twin schema --out` naming a folder is a usage error that names the option."""
    result = CliRunner().invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: option --out: {tmp_path} is a folder; give a file name"
    )
