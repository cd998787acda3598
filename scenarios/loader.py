"""Reading scenario files: YAML with line numbers, validated against the schema.

Every problem becomes a :class:`~twin.errors.ScenarioError` that names the file, the line
and the field (``stations[M2].process_time.mean``), never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from scenarios.retrofits import check_catalog
from scenarios.schema import Scenario
from scenarios.validation import Path_, validate
from twin.errors import Problem, ScenarioError

# Limits of what a scenario file may be; docs/scenario-format.md ("Input limits") explains them.
MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"
# Plain YAML values only: a scenario needs no dates, binary data, sets or custom types.
_ALLOWED_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str", "seq", "map")}


class _Refused(yaml.MarkedYAMLError):
    """A YAML construct that scenario files do not allow, marked at its line."""


class _NoColon:
    """A resolver's pattern that leaves alone values with a colon: YAML 1.1 reads ``14:00``
    as the base-60 number 840, where a scenario means a time of day (or made a typo)."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def match(self, value: str) -> Any:
        return None if ":" in value else self.pattern.match(value)


def _resolver(tag: str, pattern: Any) -> Any:
    return _NoColon(pattern) if tag in (_TAG + "int", _TAG + "float") else pattern


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, dates or base-60 numbers (both read as text), or nesting
    deeper than MAX_DEPTH.

    Aliases are refused, not expanded: a scenario never needs them, and an alias bomb (each
    level repeating the one below) or a self-referencing alias would exhaust memory or the
    stack.
    """

    yaml_implicit_resolvers = {
        first: [
            (tag, _resolver(tag, regexp)) for tag, regexp in resolvers if tag != _TAG + "timestamp"
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise _Refused(
                problem=f"YAML aliases (*{event.anchor}) are not allowed in a scenario; "
                "write the value out in full",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nested deeper than {MAX_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check(node: yaml.Node) -> None:
    """Refuse tags other than plain values, and mapping keys that are not unique text."""
    if node.tag not in _ALLOWED_TAGS:
        tag = node.tag.replace(_TAG, "!!")
        raise _Refused(
            problem=f"YAML tag {tag} is not allowed in a scenario; write a plain value",
            problem_mark=node.start_mark,
        )
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != _TAG + "str":
                raise _Refused(
                    problem=f"a key must be text, got {_shown(key)}; put it in quotes",
                    problem_mark=key.start_mark,
                )
            line = key.start_mark.line + 1
            if key.value in seen:
                raise _Refused(
                    problem=f"duplicate key {key.value!r} (first on line {seen[key.value]}); "
                    "a key may appear only once in a mapping",
                    problem_mark=key.start_mark,
                )
            seen[key.value] = line
            _check(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check(item)


def _shown(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


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
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ScenarioError(source, [_yaml_problem(exc, text)]) from None
    except ValueError:  # Python refuses to read an integer of more than 4300 digits
        found = re.search(r"\d{4300}", text)
        line = text.count("\n", 0, found.start()) + 1 if found else None
        problem = Problem("", "invalid YAML: a number has more than 4300 digits", line)
        raise ScenarioError(source, [problem]) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return data, lines


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """What the YAML error says, at its line (a reader error knows only its position)."""
    if isinstance(exc, yaml.reader.ReaderError):
        at = text.count("\n", 0, exc.position) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        return Problem("", f"invalid YAML: character {shown} is not allowed", at)
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    return Problem("", problem if isinstance(exc, _Refused) else f"invalid YAML: {problem}", line)


def loads(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario text."""
    data, lines = parse_yaml(text, source)
    scenario = validate(data, source, lines)
    if scenario.retrofits:
        check_catalog(scenario, lines, source)
    return scenario


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file (at most MAX_BYTES of UTF-8 text)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ScenarioError(str(p), [Problem("", "is a folder, not a scenario file")])
        with p.open("rb") as f:  # read with a cap: a device or a pipe may never end
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ScenarioError(
                str(p), [Problem("", f"larger than {MAX_BYTES // 2**20} MiB: not a scenario file")]
            )
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        problem = Problem("", f"not UTF-8 text: byte {raw[exc.start]:#04x} cannot be read", line)
        raise ScenarioError(str(p), [problem]) from None
    except FileNotFoundError:
        raise ScenarioError(str(p), [Problem("", "no such file")]) from None
    except OSError as exc:
        raise ScenarioError(str(p), [Problem("", f"cannot read the file: {exc}")]) from None
    return loads(text, str(p))
