"""Reading scenario files: YAML with line numbers, validated against the schema.

Every problem becomes a :class:`~twin.errors.ScenarioError` that names the file, the line
and the field (``stations[M2].process_time.mean``), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scenarios.schema import FieldError, Scenario
from twin.errors import Problem, ScenarioError

Path_ = tuple[str | int, ...]


def _lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    """Record the 1-based line of every value in the YAML tree, keyed by its path."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            out[child] = key.start_mark.line + 1
            _lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _lines(value, (*path, i), out)


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML text; return the data and the line of each path in it."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(source, [Problem("", f"invalid YAML: {problem}", line)]) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def _walk(data: Any, loc: tuple[Any, ...]) -> tuple[Path_, str]:
    """Keep the parts of a pydantic location that exist in the data; render them."""
    path: list[str | int] = []
    label = ""
    for part in loc:
        if isinstance(data, dict) and str(part) in data:
            data = data[str(part)]
            path.append(str(part))
            label += f".{part}" if label else str(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            path.append(part)
            ident = data.get("id") if isinstance(data, dict) else None
            label += f"[{ident}]" if isinstance(ident, str) else f"[{part}]"
    return tuple(path), label


def _message(error: Any) -> tuple[tuple[Any, ...], str]:
    loc = tuple(error["loc"])
    exc = (error.get("ctx") or {}).get("error")
    if isinstance(exc, FieldError):
        return loc + exc.path, str(exc)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field (check its spelling and where it is placed)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return loc, message.removeprefix("Value error, ")


def validate(data: Any, source: str, lines: dict[Path_, int] | None = None) -> Scenario:
    """Validate parsed data as a scenario, or raise ScenarioError naming each problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("", "a scenario must be a YAML mapping", 1)])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems, seen = [], set()
        for error in exc.errors():
            loc, message = _message(error)
            path, label = _walk(data, loc)
            if error["type"] == "missing" and loc and loc[-1] not in path:
                label = f"{label}.{loc[-1]}" if label else str(loc[-1])
            if (label, message) in seen:
                continue
            seen.add((label, message))
            problems.append(Problem(label, message, (lines or {}).get(path)))
        problems.sort(key=lambda p: p.line if p.line is not None else 0)
        raise ScenarioError(source, problems) from None


def loads(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text."""
    data, lines = parse_yaml(text, source)
    scenario = validate(data, source, lines)
    if scenario.retrofits:
        from scenarios.retrofits import check_catalog  # retrofits build on this module

        check_catalog(scenario, lines, source)
    return scenario


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(p), [Problem("", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(p), [Problem("", f"cannot read the file: {exc}")]) from None
    return loads(text, str(p))
