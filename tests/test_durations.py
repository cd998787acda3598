"""Durations in scenario files: seconds as numbers, or strings with a unit."""

from __future__ import annotations

import math

import pytest

from twin.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (45, 45.0),
        (2.5, 2.5),
        ("30", 30.0),
        ("90s", 90.0),
        ("90 s", 90.0),
        ("1.5sec", 1.5),
        ("250ms", 0.25),
        ("5min", 300.0),
        ("0.5min", 30.0),
        ("2h", 7200.0),
        ("1.5h", 5400.0),
        ("1d", 86400.0),
        ("1e2s", 100.0),
    ],
)
def test_accepted_forms(value: object, seconds: float) -> None:
    """A number means seconds; a string may carry the unit ms, s, sec, min, h or d."""
    assert parse_duration(value) == pytest.approx(seconds)


def test_result_is_float() -> None:
    """Whole numbers come back as float seconds."""
    assert isinstance(parse_duration(7), float)
    assert isinstance(parse_duration("7min"), float)


@pytest.mark.parametrize("value", [-1, -0.5, "-5min", "-90s", "-2h"])
def test_rejects_negative(value: object) -> None:
    """A negative duration is refused with a message that says so."""
    with pytest.raises(ValueError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["abc", "", "5 parsecs", "min", "5minutes", "1h30min", "h5"])
def test_rejects_garbage_strings(value: str) -> None:
    """An unreadable duration is refused with the forms that would be accepted."""
    with pytest.raises(ValueError, match=r"'90s', '5min', '2h'"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, False])
def test_rejects_bool(value: bool) -> None:
    """YAML's yes/no/true/false is not a duration, even though bool is an int in Python."""
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [None, [1], {"s": 1}])
def test_rejects_other_types(value: object) -> None:
    """Lists, mappings and null are not durations."""
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.inf, math.nan, "inf", "1e400s"])
def test_rejects_non_finite(value: object) -> None:
    """Infinite or NaN durations are refused."""
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"), [(30.0, "30s"), (90.0, "1.5min"), (7200.0, "2h"), (86400.0, "1d")]
)
def test_format_uses_largest_readable_unit(seconds: float, text: str) -> None:
    """Durations print in the largest unit that keeps the number readable."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.5, 42.0, 300.0, 5400.0, 3 * 86400.0])
def test_format_round_trips(seconds: float) -> None:
    """A printed duration parses back to the same number of seconds."""
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
