"""A trainer's fault script: what to do to a live line, and when (simulated time).

```yaml
- {at: 2h, action: fail, target: GRIND.0, params: {repair: 45min}}
- {at: 5h, action: hold, target: WASH}
- {at: 6h, action: release, target: WASH}
```

Each entry is checked like a command (``scenarios.commands``) when the file is read, so a
typo is reported with the file, the entry and the field before anything is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from scenarios.commands import parse_command, reasons
from scenarios.loader import parse_yaml
from twin.distributions import Duration
from twin.errors import Problem, ScenarioError


class _When(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: Duration


def load_script(path: Path) -> list[tuple[float, dict[str, Any]]]:
    """``(at, command)`` pairs of a script file, checked, in time order."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [Problem("", f"cannot read the file: {exc}")]) from None
    data, lines = parse_yaml(text, source)
    if not isinstance(data, list):
        raise ScenarioError(source, [Problem("", "a script is a list of actions", 1)])
    out: list[tuple[float, dict[str, Any]]] = []
    problems: list[Problem] = []
    for i, entry in enumerate(data):
        where, line = f"[{i}]", lines.get((i,))
        if not isinstance(entry, dict):
            problems.append(Problem(where, "expected {at: ..., action: ..., target: ...}", line))
            continue
        try:
            at = _When.model_validate(entry).at
            command = {"cmd_id": f"script-{i}", "params": {}} | {
                k: v for k, v in entry.items() if k != "at"
            }
            parse_command(command)
        except ValidationError as exc:
            problems += [Problem(where, reason, line) for reason in reasons(exc)]
            continue
        out.append((at, command))
    if problems:
        raise ScenarioError(source, problems)
    return sorted(out, key=lambda pair: pair[0])
