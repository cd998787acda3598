"""Retrofits as patches over a scenario: values, scaling, wildcards, errors, plans."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lines import invoke

from scenarios.loader import load, validate
from scenarios.retrofits import (
    BASELINE,
    PatchError,
    Plan,
    apply,
    default_plans,
    feasible,
    parse_plan,
    patch,
)
from scenarios.schema import Scenario
from twin.errors import ScenarioError

LINE = """\
name: retrofit line
seed: 5
horizon: 1d
replications: 2
stations:
  - id: M1
    input_buffer: 0
    process_time: {dist: exponential, mean: 50s}
    failures:
      mtbf: {dist: exponential, mean: 1h}
      mttr: 10min
  - id: M2
    input_buffer: 2
    process_time: 55s
    failures:
      mtbf: {dist: exponential, mean: 2h}
      mttr: {dist: lognormal, mean: 20min, sd: 5min}
  - id: M3
    process_time: {dist: triangular, low: 40s, mode: 50s, high: 60s}
"""

CATALOG = """\
retrofits:
  - id: buffer
    capex: 40000
    changes:
      stations.M2.input_buffer: 5
  - id: faster
    changes:
      stations.M3.process_time: {scale: 0.5}
  - id: repairs
    changes:
      stations.*.failures.mttr: {scale: 0.5}
  - id: double_buffer
    requires: [buffer]
    changes:
      stations.M2.input_buffer: {scale: 2}
"""

# (distribution as written, its mean in seconds)
DISTRIBUTIONS = [
    ({"dist": "constant", "value": "2min"}, 120.0),
    ({"dist": "exponential", "mean": 50}, 50.0),
    ({"dist": "normal", "mean": 60, "sd": 5}, 60.0),
    ({"dist": "lognormal", "mean": "1min", "sd": "15s"}, 60.0),
    ({"dist": "uniform", "low": 30, "high": 50}, 40.0),
    ({"dist": "triangular", "low": 40, "mode": 50, "high": 60}, 50.0),
    ({"dist": "gamma", "mean": 45, "cv": 0.3}, 45.0),
    ({"dist": "erlang", "k": 3, "mean": 45}, 45.0),
    ({"dist": "weibull", "shape": 2.0, "scale": 80}, None),
    ({"dist": "empirical", "values": [20, 30, 60], "weights": [1, 1, 2]}, 42.5),
]


@pytest.fixture
def line(scenario: Callable[[str], Scenario]) -> Scenario:
    """The three-station line with the retrofit catalog."""
    return scenario(LINE + CATALOG)


def station(s: Scenario, sid: str) -> Any:
    return next(st for st in s.stations if st.id == sid)


def line_with(retrofits: str) -> str:
    return LINE + "retrofits:\n" + retrofits


# -- patches --------------------------------------------------------------------------------


def test_value_replaces_the_field(line: Scenario) -> None:
    """A plain value replaces the field; the other stations and the original are untouched."""
    patched = apply(line, Plan(("buffer",)))
    assert station(patched, "M2").input_buffer == 5
    assert station(line, "M2").input_buffer == 2
    assert station(patched, "M1") == station(line, "M1")
    assert station(patched, "M3") == station(line, "M3")


def test_patch_does_not_touch_its_input() -> None:
    """patch() returns a changed copy; the data passed in stays as it was."""
    data = {"horizon": "2h", "stations": [{"id": "M1", "input_buffer": 1}]}
    out = patch(data, {"stations.M1.input_buffer": 4, "horizon": {"scale": 2}})
    assert out == {"horizon": 14400.0, "stations": [{"id": "M1", "input_buffer": 4}]}
    assert data == {"horizon": "2h", "stations": [{"id": "M1", "input_buffer": 1}]}


@pytest.mark.parametrize(
    ("value", "k", "expected"),
    [(600, 2, 1200.0), (7.5, 0.5, 3.75), ("10min", 0.5, 300.0), ("2h", 1.5, 10800.0)],
)
def test_scale_number_and_duration(value: Any, k: float, expected: float) -> None:
    """{scale: k} multiplies a number of seconds or a duration string with a unit."""
    assert patch({"warmup": value}, {"warmup": {"scale": k}}) == {"warmup": expected}


@pytest.mark.parametrize(("dist", "mean"), DISTRIBUTIONS, ids=lambda d: str(d)[:24])
def test_scale_distribution_scales_its_mean(
    dist: dict[str, Any], mean: float | None, scenario: Callable[[str], Scenario]
) -> None:
    """{scale: k} on a distribution multiplies its mean by k and keeps its shape."""
    base = scenario(LINE)
    data = base.model_dump(mode="json")
    data["stations"][2]["process_time"] = dist
    before = validate(data, "test")
    after = validate(patch(data, {"stations.M3.process_time": {"scale": 0.4}}), "test")
    old, new = station(before, "M3").process_time, station(after, "M3").process_time
    if mean is not None:
        assert old.expected == pytest.approx(mean)
    assert new.expected == pytest.approx(0.4 * old.expected, rel=1e-12)
    assert new.dist == old.dist
    for shape in ("k", "cv", "shape", "weights"):
        assert getattr(new, shape, None) == getattr(old, shape, None)


def test_scale_lognormal_keeps_its_cv(line: Scenario) -> None:
    """Scaling a lognormal repair time halves both its mean and its sd."""
    patched = apply(line, Plan(("repairs",)))
    mttr = station(patched, "M2").failures.mttr
    assert (mttr.mean, mttr.sd) == (600.0, 150.0)


def test_wildcard_changes_every_station_that_has_the_field(line: Scenario) -> None:
    """`stations.*.failures.mttr` scales M1 and M2 and skips M3, which has no failures."""
    patched = apply(line, Plan(("repairs",)))
    assert station(patched, "M1").failures.mttr.expected == 300.0
    assert station(patched, "M2").failures.mttr.expected == 600.0
    assert station(patched, "M3").failures is None
    assert station(patched, "M1").failures.mtbf == station(line, "M1").failures.mtbf
    assert station(patched, "M3") == station(line, "M3")


def test_wildcard_that_matches_no_station_is_an_error(scenario: Callable[[str], Scenario]) -> None:
    """A wildcard path that no station has fails at load time, naming retrofit and path."""
    text = line_with("  - id: cooling\n    changes:\n      stations.*.setup.time: {scale: 0.5}\n")
    with pytest.raises(ScenarioError) as info:
        scenario(text)
    message = str(info.value)
    assert "cooling" in message
    assert "stations.*.setup.time" in message
    with pytest.raises(PatchError, match="setup"):
        patch(scenario(LINE).model_dump(mode="json"), {"stations.*.setup.time": {"scale": 2}})


def test_plan_applies_in_catalog_order(line: Scenario) -> None:
    """Retrofits apply in catalog order whatever order the plan names them in."""
    plan = parse_plan(line, "double_buffer + buffer")
    assert plan == Plan(("buffer", "double_buffer"))
    assert plan.name == "buffer+double_buffer"
    assert station(apply(line, plan), "M2").input_buffer == 10


def test_baseline_is_the_scenario(line: Scenario) -> None:
    """The empty plan is the baseline and leaves the scenario as it is."""
    assert BASELINE.name == "baseline"
    assert apply(line, BASELINE) == line


def test_patched_scenario_is_validated(line: Scenario) -> None:
    """apply() returns a validated scenario: a change that breaks it raises ScenarioError."""
    data = line.model_dump(mode="json")
    data["retrofits"][0]["changes"] = {"stations.M2.servers": 0}
    broken = Scenario.model_validate(data)  # the catalog check at load time is bypassed
    with pytest.raises(ScenarioError) as info:
        apply(broken, Plan(("buffer",)))
    assert "buffer" in str(info.value)
    assert "servers" in str(info.value)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"stations.M9.input_buffer": 1}, ["M9", "M1, M2, M3"]),
        ({"stations.M1.buffer": 1}, ["'buffer'"]),
        ({"stations.M1": 1}, ["name a field"]),
        ({"nothing": 1}, ["'nothing'"]),
        ({"stations..servers": 1}, ["dotted path"]),
        ({"stations.M1.input_buffer": {"scale": -1}}, ["non-negative"]),
        ({"stations.M1.id": {"scale": 2}}, ["cannot scale"]),
        ({"stations.M1.failures": {"scale": 2}}, ["cannot scale"]),
    ],
)
def test_patch_errors_say_what_is_wrong(
    changes: dict[str, Any], words: list[str], line: Scenario
) -> None:
    """A change that cannot apply raises PatchError with what was wrong."""
    with pytest.raises(PatchError) as info:
        patch(line.model_dump(mode="json"), changes)
    for word in words:
        assert word in str(info.value)


# -- errors at load time, with file and line -------------------------------------------------

BAD = [
    (
        "  - id: ghost\n    changes:\n      stations.M9.input_buffer: 3\n",
        ["retrofits[ghost]", "stations.M9.input_buffer", "M9"],
        3,
    ),
    (
        "  - id: typo\n    changes:\n      stations.M1.buffer: 3\n",
        ["retrofits[typo]", "stations.M1.buffer", "'buffer'"],
        3,
    ),
    (
        "  - id: letters\n    changes:\n      stations.M2.input_buffer: abc\n",
        ["retrofits[letters]", "M2", "input_buffer", "integer"],
        3,  # the line of the change that makes the scenario invalid
    ),
    (
        "  - id: negative\n    changes:\n      stations.M2.input_buffer: -1\n",
        ["retrofits[negative]", "M2", "input_buffer", "greater than or equal to 0"],
        3,  # the line of the change that makes the scenario invalid
    ),
    (
        "  - id: a\n    changes: {stations.M1.input_buffer: 1}\n"
        "  - id: b\n    requires: [a, nowhere]\n    changes: {stations.M1.input_buffer: 2}\n",
        ["retrofits[b].requires", "'nowhere'", "known: a, b"],
        4,
    ),
    (
        "  - id: a\n    requires: [c]\n    changes: {stations.M1.input_buffer: 1}\n"
        "  - id: b\n    requires: [a]\n    changes: {stations.M1.input_buffer: 2}\n"
        "  - id: c\n    requires: [b]\n    changes: {stations.M1.input_buffer: 3}\n",
        ["retrofits[a].requires", "cycle", "a -> c -> b -> a"],
        2,
    ),
]


@pytest.mark.parametrize(("retrofits", "words", "offset"), BAD, ids=[b[1][0] for b in BAD])
def test_bad_retrofit_names_file_line_retrofit_and_path(
    retrofits: str, words: list[str], offset: int, scenario_file: Callable[..., Path]
) -> None:
    """A bad retrofit fails load() with FILE:LINE, the retrofit and the path at fault."""
    path = scenario_file(line_with(retrofits), "plans.yaml")
    with pytest.raises(ScenarioError) as info:
        load(path)
    message = str(info.value)
    for word in words:
        assert word in message, message
    first = LINE.count("\n") + 1  # the line of `retrofits:`
    match = re.search(rf"{re.escape(str(path))}:(\d+):", message)
    assert match is not None, message
    assert int(match.group(1)) == first + offset, message


@pytest.mark.parametrize(("retrofits", "words", "offset"), BAD[:4], ids=[b[1][0] for b in BAD[:4]])
def test_validate_command_exits_2_on_bad_retrofit(
    retrofits: str, words: list[str], offset: int, scenario_file: Callable[..., Path]
) -> None:
    """`twin validate` on a bad retrofit exits 2 with the file, line, retrofit and path."""
    path = scenario_file(line_with(retrofits), "plans.yaml")
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"plans.yaml:{LINE.count(chr(10)) + 1 + offset}:" in result.stderr
    assert words[0] in result.stderr


def test_every_bad_retrofit_is_reported(scenario_file: Callable[..., Path]) -> None:
    """Several bad retrofits are all reported at once, good ones are not."""
    text = line_with("".join(b[0] for b in BAD[:4]) + CATALOG.removeprefix("retrofits:\n"))
    with pytest.raises(ScenarioError) as info:
        load(scenario_file(text))
    fields = [p.field for p in info.value.problems]
    for rid in ("ghost", "typo", "letters", "negative"):
        assert any(f"retrofits[{rid}]" in f for f in fields), fields
    for rid in ("buffer", "faster", "repairs", "double_buffer"):
        assert not any(f"retrofits[{rid}]" in f for f in fields), fields


def test_requires_is_applied_before_checking(scenario: Callable[[str], Scenario]) -> None:
    """A retrofit is checked on top of what it requires (a path only its requirement adds)."""
    text = line_with(
        "  - id: reliable\n    changes:\n"
        "      stations.M3.failures: {mtbf: 4h, mttr: 30min}\n"
        "  - id: faster_repair\n    requires: [reliable]\n    changes:\n"
        "      stations.M3.failures.mttr: {scale: 0.5}\n"
    )
    s = scenario(text)
    patched = apply(s, parse_plan(s, "reliable+faster_repair"))
    assert station(patched, "M3").failures.mttr.expected == 900.0


# -- plans ----------------------------------------------------------------------------------


def test_explicit_plan_missing_a_requirement_is_refused(line: Scenario) -> None:
    """A plan with a retrofit but not what it requires is an error naming both."""
    with pytest.raises(ScenarioError) as info:
        parse_plan(line, "double_buffer")
    message = str(info.value)
    assert "double_buffer" in message
    assert "requires buffer" in message


def test_explicit_plan_with_unknown_retrofit_is_refused(line: Scenario) -> None:
    """A plan naming a retrofit that is not in the catalog lists the known ones."""
    with pytest.raises(ScenarioError, match=r"unknown retrofit 'turbo'.*buffer, faster"):
        parse_plan(line, "buffer+turbo")


CORE_CATALOG = """\
  - id: platform
    core: true
    changes: {stations.*.failures.mttr: {scale: 0.8}}
  - id: predictive
    requires: [platform]
    changes: {stations.M1.failures.mtbf: {scale: 1.5}}
  - id: buffer
    changes: {stations.M2.input_buffer: 5}
  - id: vision
    changes: {stations.M3.process_time: {scale: 0.9}}
  - id: vision_ai
    requires: [vision]
    changes: {stations.M3.process_time: {scale: 0.9}}
"""


def names(plans: list[Plan]) -> list[str]:
    return [p.name for p in plans]


def test_default_plans_are_every_feasible_subset(
    scenario: Callable[[str], Scenario],
) -> None:
    """Default plans: every feasible subset, with or without the core, smallest first."""
    s = scenario(line_with(CORE_CATALOG))
    ids = [r.id for r in s.retrofits]
    every = {
        "+".join(combo)
        for n in range(1, len(ids) + 1)
        for combo in itertools.combinations(ids, n)
        if feasible(s.retrofits, combo)
    }
    plans = names(default_plans(s))
    assert len(plans) == len(every) == 17
    assert set(plans) == every
    assert plans[:6] == [
        "platform",
        "buffer",
        "vision",
        "platform+predictive",
        "platform+buffer",
        "platform+vision",
    ]
    assert plans[-1] == "platform+predictive+buffer+vision+vision_ai"
    assert "buffer+vision+vision_ai" in plans  # without the core
    assert names(default_plans(s, 1)) == plans[:6]
    assert names(default_plans(s, 0)) == ["platform"]


def test_default_plans_without_core_are_the_subsets(
    scenario: Callable[[str], Scenario],
) -> None:
    """Without a core, the default plans are the feasible non-empty subsets."""
    catalog = CORE_CATALOG.replace("    core: true\n", "").replace(
        "  - id: predictive\n    requires: [platform]\n", "  - id: predictive\n"
    )
    s = scenario(line_with(catalog))
    plans = default_plans(s, 2)
    assert BASELINE not in plans
    assert all(1 <= len(p.retrofits) <= 2 for p in plans)
    assert "vision_ai" not in names(plans)
    assert "buffer+vision_ai" not in names(plans)
    assert "vision+vision_ai" in names(plans)
    assert len(plans) == 4 + 7  # singles and pairs, less those with vision_ai but not vision
    assert len(default_plans(s)) == 2**5 - 1 - 2**3  # vision_ai with any of the other three


def test_every_default_plan_applies(scenario: Callable[[str], Scenario]) -> None:
    """Every default plan passes the plan check and gives a valid scenario."""
    s = scenario(line_with(CORE_CATALOG))
    for plan in default_plans(s):
        assert parse_plan(s, plan.name) == plan
        assert isinstance(apply(s, plan), Scenario)
