"""Mutated bundled scenarios: every outcome is a run, or exit 2 with ``error: file:line: ...``.

Hypothesis mutates the parsed scenarios (delete, rename and retype keys and values, deep
nesting) and their text (aliases, anchors, tags, duplicate keys, bad indentation, stray
characters). Each case goes through the real command line; a per-case alarm turns a hang into
a failure instead of a stuck test run.
"""

from __future__ import annotations

import copy
import math
import re
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from scenarios.catalog import bundled
from scenarios.loader import loads
from scenarios.overrides import override
from scenarios.schema import MAX_EVENTS, Scenario, workload
from twin.cli import app
from twin.durations import LONGEST
from twin.errors import ScenarioError, TwinError

TEXTS = {name: path.read_text(encoding="utf-8") for name, path in bundled().items()}
DATA = {name: yaml.safe_load(text) for name, text in TEXTS.items()}
NAMES = sorted(TEXTS)

VALIDATE_SECONDS = 10
RUN_SECONDS = 30
RUN_HORIZON = 600.0
# A mutated scenario is run only when its 10-minute replication is small; bigger ones are
# bounded by the event budget, which tests/test_hostile_files.py holds.
RUN_EVENTS = 200_000

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_deep = st.integers(min_value=1, max_value=200).map(lambda n: _nest(n))
HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            1,
            2,
            10**30,
            -(10**30),
            1e-300,
            1e308,
            -1e308,
            math.inf,
            -math.inf,
            math.nan,
            "",
            "[/bold]",
            "[red]x[/]",
            "1e9d",
            "1e-300s",
            "5min",
            "0",
            "-3s",
            "2024-01-01",
            "exponential",
            [],
            [1, "a"],
            ["exponential"],
            {},
            {"dist": ["exponential"]},
            {"dist": "weibull", "shape": 0.001, "scale": 1},
            {"dist": "gamma", "mean": 1, "cv": 1e-200},
            {"dist": "empirical", "values": [0, 1], "weights": [1e308, 1e308]},
            {"a": {"b": {"c": 1}}},
        ]
    ),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    _deep,
)


def _nest(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (mapping keys and list indices)."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _mutate(data: Any, path: tuple[Any, ...], op: str, value: Any, key: str) -> Any:
    """A copy of ``data`` with one mutation at ``path``."""
    if not path:
        return value if op == "replace" else data
    *head, last = path
    parent = data
    for part in head:
        parent = parent[part]
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    elif op == "recase" and isinstance(parent, dict) and isinstance(last, str):
        parent[last.swapcase()] = parent.pop(last)
    elif op == "insert" and isinstance(parent, dict):
        parent[key] = value
    elif op == "insert" and isinstance(parent, list):
        parent.insert(last, value)
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> str:
    """A bundled scenario with one to three structural mutations, dumped as YAML."""
    data = yaml.safe_load(TEXTS[draw(st.sampled_from(NAMES))])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(list(_paths(data))))
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename", "recase", "insert"]))
        key = draw(st.sampled_from(["Id", "servres", "dist", "mean", "id", "x[/bold]", "1"]))
        # A copy: the sampled values are shared between examples and must stay as they are.
        data = _mutate(data, path, op, copy.deepcopy(draw(HOSTILE_VALUES)), key)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)


SNIPPETS = [
    "loop: &a [*a]",
    "x: *undefined",
    "name: &n x",
    "y: !!binary aGVsbG8=",
    "y: !!set {a, b}",
    "y: !!python/object:os.system x",
    "y: !!timestamp 2024-01-01",
    "y: !custom 1",
    "<<: {name: z}",
    "name: duplicate",
    "  - id: M9",
    "\tservers: 2",
    "stations: [",
    "{[: ]}",
    "? [a, b]\n: 1",
    "a0: &a0 [1, 1]\na1: &a1 [*a0, *a0]\na2: [*a1, *a1]",
    "deep: " + "[" * 300 + "]" * 300,
    "name: \x00",
    "big: " + "9" * 5000,
]


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    """A bundled scenario's text with YAML structure inserted, lines doubled, moved or cut."""
    lines = TEXTS[draw(st.sampled_from(NAMES))].splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        op = draw(st.sampled_from(["snippet", "double", "indent", "dedent", "cut", "chars"]))
        if op == "snippet":
            indent = draw(st.sampled_from(["", "  ", "    "]))
            lines.insert(at, indent + draw(st.sampled_from(SNIPPETS)))
        elif op == "double":
            lines.insert(at, lines[at])
        elif op == "indent":
            lines[at] = " " * draw(st.integers(min_value=1, max_value=3)) + lines[at]
        elif op == "dedent":
            lines[at] = lines[at].lstrip()
        elif op == "cut":
            lines[at] = lines[at][: draw(st.integers(min_value=0, max_value=len(lines[at])))]
        else:
            lines[at] += draw(st.text(alphabet=":[]{}&*!|>-#'\"%@`,?\t\\ 0e.", max_size=6))
    return "\n".join(lines) + "\n"


class Hang(Exception):
    """A case outlived its alarm."""


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no outcome within {seconds}s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _invoke(args: list[str], seconds: int) -> Result:
    with _alarm(seconds):
        return CliRunner().invoke(app, args)


def _hold(result: Result, where: str, text: str) -> None:
    """Exit 0, or exit 2 with ``error: <where>...`` where a line number follows the file."""
    context = f"\n--- stderr ---\n{result.stderr[:3000]}\n--- input ---\n{text[:5000]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{result.exception!r} escaped{context}") from result.exception
    assert result.exit_code in (0, 2), f"exit code {result.exit_code}{context}"
    if result.exit_code == 2:
        assert result.stderr.startswith(f"error: {where}"), context
        assert "Traceback" not in result.stderr, context


def _check_file(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = _invoke(["validate", str(path)], VALIDATE_SECONDS)
        _hold(result, f"{path}:", text)
        if result.exit_code == 2:
            assert re.match(rf"error: {re.escape(str(path))}:\d+: ", result.stderr), result.stderr
        else:
            _run_if_small(path, text)


def _run_if_small(path: Path, text: str) -> None:
    """Run a valid mutated scenario briefly, unless its replication would be large."""
    refused = False
    try:
        short = override(loads(text, str(path)), {"horizon": RUN_HORIZON, "warmup": 0.0})
        if _events(short) > RUN_EVENTS:
            return
    except ScenarioError:
        refused = True  # the short run itself is refused: the command must say so, with exit 2
    args = ["run", str(path), "--reps", "1", "--horizon", "10min", "--warmup", "0"]
    result = _invoke([*args, "--workers", "1"], RUN_SECONDS)
    _hold(result, "", text)
    if result.exit_code == 2:
        assert refused, result.stderr


def _events(model: Scenario) -> float:
    return sum(events for events, _, _ in workload(model))


@FUZZ
@given(text=mutated_data())
def test_structural_mutations(text: str) -> None:
    """Keys and values deleted, renamed or retyped: validated and run, or refused at a line."""
    _check_file(text)


@FUZZ
@given(text=mutated_text())
def test_text_mutations(text: str) -> None:
    """YAML structure inserted into the text: refused at a line, never a traceback or a hang."""
    _check_file(text)


@pytest.mark.parametrize("name", NAMES)
def test_every_bundled_scenario_passes_unmutated(name: str) -> None:
    """The fuzz starts from valid files: each bundled scenario validates as it is."""
    result = _invoke(["validate", name], VALIDATE_SECONDS)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ok: {DATA[name]['name']!r}")


DURATION_TEXT = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\A[-+]?\d{0,12}(\.\d{0,6})?([eE][-+]?\d{1,4})?\s?(ms|s|sec|min|h|d|m|y)?\Z"),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["auto", "AUTO", "1e9d", "1e-300", "inf", "nan", "[/bold]", ":100:"]),
)


@FUZZ
@given(horizon=DURATION_TEXT, warmup=st.none() | DURATION_TEXT.filter(lambda w: w != "auto"))
def test_horizon_and_warmup_options(horizon: str, warmup: str | None) -> None:
    """Any ``--horizon``/``--warmup`` text gives a scenario within the limits, or a user error
    naming the option."""
    from twin.cli import _load

    try:
        with _alarm(VALIDATE_SECONDS):
            model = _load("mm1", None, None, horizon, warmup)
    except TwinError as exc:
        assert str(exc).startswith(("option --horizon", "option --warmup", "mm1 with ")), exc
        return
    assert 0 < model.horizon <= LONGEST
    assert _events(model) <= MAX_EVENTS
