"""Validating parsed data as a scenario: every pydantic error becomes a problem that names
the field (``stations[M2].process_time.mean``) and, when the data came from a file, its line.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from scenarios.schema import FieldError, Scenario
from twin.errors import Problem, ScenarioError

Path_ = tuple[str | int, ...]


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


def _relevant(errors: list[Any], data: dict[str, Any]) -> list[Any]:
    """Drop errors in the default product when the stations it is made from are at fault."""
    if "products" in data:
        return errors
    own = [e for e in errors if not e["loc"] or e["loc"][0] != "products"]
    return own or errors


def validate(data: Any, source: str, lines: dict[Path_, int] | None = None) -> Scenario:
    """Validate parsed data as a scenario, or raise ScenarioError naming each problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("", "a scenario must be a YAML mapping", 1)])
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems, seen = [], set()
        for error in _relevant(exc.errors(), data):
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
