"""Calendars: shifts, breaks and days off are planned stops; a part in process pauses and
resumes at the next start. Held to the working share of the week, exact pauses, ISO
availability, Little's law and conservation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import simpy
from test_theory import assert_agrees, assert_flows, simulate

from models.calendar import DAY, WEEK, Week
from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.changes import Change, Changes
from twin.errors import ScenarioError

H = 3600.0
EXP_10MIN = "{dist: exponential, mean: 10min}"


def test_a_week_of_two_shifts_with_breaks() -> None:
    """Monday to Friday, 06:00-14:00 and 14:00-22:00, breaks at 10:00 and 18:00 of 20 min:
    5 x (16 h - 40 min) a week; the weekend and the breaks are off."""
    week = Week.of(range(5), [(6 * H, 14 * H), (14 * H, 22 * H)], [(10 * H, 1200), (18 * H, 1200)])
    assert week.hours == pytest.approx(5 * (16 - 40 / 60))
    assert week.working(6 * H) and not week.working(6 * H - 1)
    assert not week.working(10 * H + 600) and week.working(10 * H + 1200)
    assert not week.working(5 * DAY + 8 * H)  # Saturday
    assert week.working(WEEK + 7 * H)  # the next week repeats it
    assert week.next_change(0.0) == 6 * H
    assert week.next_change(6 * H) == 10 * H
    assert week.next_change(4 * DAY + 22 * H) == WEEK + 6 * H  # Friday night to Monday


def test_a_night_shift_runs_past_midnight_and_over_the_end_of_the_week() -> None:
    """A Sunday night shift 22:00-06:00 ends on Monday morning, at the start of the next
    week: one spell of 8 h, from Sunday 22:00 to Monday 06:00."""
    week = Week.of([6], [(22 * H, 6 * H)], [])
    assert week.hours == pytest.approx(8.0)
    assert week.working(6 * DAY + 23 * H) and week.working(5 * H) and week.working(WEEK + 5 * H)
    assert not week.working(6 * H)
    assert week.changes == [6 * H, 6 * DAY + 22 * H]


SHIFTS = """\
name: day shift
seed: 4
horizon: 70d
replications: 10
calendar:
  days: [mon, tue, wed, thu, fri]
  shifts: [{start: "08:00", end: "16:00"}]
stations:
  - id: M
    input_buffer: 0
    process_time: {dist: exponential, mean: 60s}
"""


def test_a_saturated_station_working_40_of_168_hours(scenario: Callable[[str], Scenario]) -> None:
    """A saturated station of rate 60/h working 40 h of the 168 h week makes 40/168 x 60
    parts per observed hour; off shift is a planned stop, so its availability stays 1."""
    result = simulate(scenario(SHIFTS))
    assert_agrees(result["line"]["throughput_per_hour"], 40 / 168 * 60, rel=0.01)
    m = result["stations"]["M"]
    assert m["states"]["off"]["mean"] == pytest.approx(128 / 168, abs=1e-12)
    assert m["states"]["busy"]["mean"] == pytest.approx(40 / 168, abs=1e-12)
    assert m["availability"]["mean"] == pytest.approx(1.0, abs=1e-12)


def test_availability_with_failures_is_that_of_the_machine_alone(
    scenario: Callable[[str], Scenario],
) -> None:
    """Failures every 2 h of operation, repairs of 10 min (both exponential): availability
    APT / PBT is 120 / 130 with or without shifts, since off-shift time leaves PBT (a repair
    under way at the end of a shift goes on, as down time)."""
    failures = f"    failures: {{mtbf: {{dist: exponential, mean: 2h}}, mttr: {EXP_10MIN}}}\n"
    text = SHIFTS + failures
    result = simulate(scenario(text))
    assert_agrees(result["stations"]["M"]["availability"], 120 / 130, rel=0.01)


PAUSE = """\
name: pauses
seed: 1
horizon: 3d
calendar:
  shifts: [{start: "00:00", end: "01:00"}]
stations:
  - id: M
    input_buffer: 0
    process_time: 50min
"""


def finishes(model: Scenario, scope: str = "M.0") -> list[float]:
    """When each part's processing ended at ``scope`` (its state left busy)."""
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(seen.append)
    build(env, model, 0, changes)
    env.run(until=model.horizon)
    return [c.time for c in seen if c.kind == "finish"]


def test_a_part_in_process_pauses_at_the_end_of_a_shift_and_resumes_at_the_next(
    scenario: Callable[[str], Scenario],
) -> None:
    """One hour of work a day, 50 min a part: the first part is done at 00:50; the second
    has 10 min done at 01:00 and its other 40 min the next day, done at 24:40; the third
    then takes 20 min of that day and 30 of the next."""
    done = finishes(scenario(PAUSE))
    assert done[:3] == [50 * 60.0, DAY + 40 * 60.0, 2 * DAY + 30 * 60.0]


def test_calendar_always_exempts_a_station(scenario: Callable[[str], Scenario]) -> None:
    """A station with ``calendar: always`` works around the clock beside one that does not."""
    text = PAUSE.replace(
        "process_time: 50min\n",
        "process_time: 50min\n  - id: OVEN\n    calendar: always\n    process_time: 10min\n",
    )
    kpis = run_replication(scenario(text), 0)
    assert kpis["stations"]["OVEN"]["states"]["off"] == 0.0
    assert kpis["stations"]["M"]["states"]["off"] == pytest.approx(23 / 24)


LITTLE = """\
name: shifts with arrivals
seed: 9
horizon: 280d
warmup: 7d
replications: 5
arrivals: {interarrival: {dist: exponential, mean: 4min}}
calendar:
  days: [mon, tue, wed, thu, fri, sat]
  shifts: [{start: "06:00", end: "22:00"}]
  breaks: [{start: "12:00", duration: 30min}]
stations:
  - id: CUT
    process_time: {dist: exponential, mean: 90s}
    failures: {mtbf: {dist: exponential, mean: 8h}, mttr: 20min, basis: calendar}
  - id: OVEN
    calendar: always
    process_time: {dist: exponential, mean: 60s}
  - id: PACK
    input_buffer: 5
    process_time: {dist: exponential, mean: 100s}
"""


def test_a_line_on_shifts_keeps_littles_law_and_its_parts(
    scenario: Callable[[str], Scenario],
) -> None:
    """Parts arrive around the clock, two of three stations work 93 h of the week: all
    that enters leaves (15 parts/h), WIP = throughput x lead time, every part accounted for."""
    assert_flows(scenario(LITTLE), 15.0)


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ('shifts: [{start: 14:00, end: "22:00"}]', None),
        ('shifts: [{start: 840, end: "22:00"}]', r"time of day is text"),
        ('shifts: [{start: "25:00", end: "22:00"}]', r"between 00:00 and 24:00"),
        ('shifts: [{start: "6h", end: "22:00"}]', r"HH:MM"),
        ("days: [mon, mon]", r"more than once: mon"),
        ("days: [monday]", r"calendar\.days\[0\]"),
        (
            'shifts: [{start: "10:00", end: "11:00"}]\n  breaks: [{start: "09:30", duration: 2h}]',
            r"no working time",
        ),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(
    scenario: Callable[[str], Scenario], calendar: str, message: str | None
) -> None:
    """Times of day are quoted text (unquoted 14:00 is read as text too, not YAML's base-60
    number 840); days are named once; a calendar must leave some working time."""
    text = PAUSE.replace('shifts: [{start: "00:00", end: "01:00"}]', calendar)
    if message is None:
        assert scenario(text).calendar is not None
        return
    with pytest.raises(ScenarioError, match=message):
        scenario(text)


def test_a_resolved_calendar_reads_back_as_written(scenario: Callable[[str], Scenario]) -> None:
    """Stored results and retrofit patches dump the scenario and read it back: times of day
    go out as the text they came in as (``"22:30:15"``), so the calendar is unchanged."""
    text = LITTLE.replace('{start: "12:00", duration: 30min}', '{start: "22:30:15", duration: 1h}')
    model = scenario(text)
    dumped = model.model_dump(mode="json", by_alias=True)
    assert dumped["calendar"]["breaks"][0]["start"] == "22:30:15"
    assert dumped["calendar"]["shifts"][0] == {"start": "06:00", "end": "22:00"}
    again = Scenario.model_validate(dumped)
    assert again == model
    # The break falls after the shift: it takes nothing off the 6 x 16 h.
    assert again.calendar is not None and again.calendar.week().hours == pytest.approx(6 * 16)
