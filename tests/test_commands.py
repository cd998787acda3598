"""The command door: validated, authorised, applied at a simulated time, answered; never
raising into the simulation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import simpy

from models.line import Line
from scenarios.builder import build
from scenarios.commands import Door, Reply, command_schema
from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.changes import Change, Changes

LINE = """\
name: commanded
seed: 3
horizon: 2h
arrivals:
  interarrival: {dist: exponential, mean: 60s}
stations:
  - id: M1
    servers: 2
    process_time: {dist: exponential, mean: 80s}
    failures: {mtbf: {dist: exponential, mean: 30min}, mttr: 3min}
  - id: M2
    input_buffer: 2
    process_time: {dist: exponential, mean: 40s}
"""


def door(scenario: Callable[[str], Scenario]) -> tuple[Door, Line, list[Change]]:
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    changes.subscribe(seen.append)
    line = build(env, scenario(LINE), 0, changes)
    env.run(until=600)
    return Door(line), line, seen


def cmd(action: str, target: str, cmd_id: str = "c1", **params: Any) -> dict[str, Any]:
    return {"cmd_id": cmd_id, "action": action, "target": target, "params": params}


def test_an_applied_command_is_acknowledged_at_its_time_and_streamed(
    scenario: Callable[[str], Scenario],
) -> None:
    """A hold is applied at the current simulated time, acknowledged, and enters the stream."""
    d, line, seen = door(scenario)
    reply = d.submit(cmd("hold", "M2"), "agent")
    assert reply == Reply("c1", True, at=600.0)
    assert reply.to_dict() == {"cmd_id": "c1", "ok": True, "at": 600.0}
    assert line.stations["M2"].held
    assert seen[-1].kind == "command" and seen[-1].scope == "M2" and seen[-1].time == 600.0
    assert d.applied == [
        {"at": 600.0, "cmd_id": "c1", "action": "hold", "target": "M2", "params": {}}
    ]


def test_a_repeated_cmd_id_gets_the_first_answer_and_is_not_applied_again(
    scenario: Callable[[str], Scenario],
) -> None:
    """Idempotent: the same cmd_id twice holds once and answers the same."""
    d, _, _ = door(scenario)
    first = d.submit(cmd("hold", "M2", "same"), "agent")
    again = d.submit(cmd("hold", "M2", "same"), "agent")
    assert again == first and first.ok
    other = d.submit(cmd("hold", "M2", "other"), "agent")
    assert (other.ok, other.code) == (False, "not_allowed_in_state")
    assert len(d.applied) == 1


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        ("not a mapping", "invalid", "Input should be"),
        ({"cmd_id": "x", "action": "explode", "target": "M1"}, "invalid", "unknown action"),
        ({"cmd_id": "x", "target": "M1"}, "invalid", "'action' is missing"),
        (cmd("hold", "M1", extra=1), "invalid", "params.extra: unknown field"),
        (cmd("maintain", "M1.0"), "invalid", "params.duration: Field required"),
        (cmd("maintain", "M1.0", duration="soon"), "invalid", "invalid duration 'soon'"),
        (cmd("speed", "M1", factor=float("inf")), "invalid", "params.factor"),
        (cmd("hold", "M9"), "unknown_target", "no station 'M9'; stations: M1, M2"),
        (cmd("maintain", "M2", duration=60), "unknown_target", "no machine 'M2' (write M2.0)"),
        (cmd("mix", "line", mix={"part": 1}), "unknown_target", "target 'arrivals'"),
        (cmd("pause", "clock"), "forbidden", "an agent may not pause"),
        (cmd("speed", "clock", factor=2), "forbidden", "only a trainer"),
        (cmd("fail", "M1.0"), "forbidden", "an agent may not fail"),
    ],
)
def test_a_bad_command_is_refused_with_a_code_and_a_reason(
    scenario: Callable[[str], Scenario], message: Any, code: str, reason: str
) -> None:
    """Each kind of bad command gets its code and a reason naming what is wrong."""
    d, _, _ = door(scenario)
    reply = d.submit(message, "agent")
    assert (reply.ok, reply.code) == (False, code)
    assert any(reason in r for r in reply.reasons), reply.reasons
    assert d.applied == []


def test_a_viewer_may_do_nothing_and_a_trainer_everything(
    scenario: Callable[[str], Scenario],
) -> None:
    """Roles: a viewer's command is refused; a trainer may fail a machine."""
    d, line, _ = door(scenario)
    assert d.submit(cmd("hold", "M2"), "viewer").code == "forbidden"
    reply = d.submit(cmd("fail", "M1.0", "f1", repair=120), "trainer")
    assert reply.ok, reply
    assert line.stations["M1"].machines[0].down


def test_clock_commands_need_a_live_clock(scenario: Callable[[str], Scenario]) -> None:
    """In a batch run there is no clock to pause: refused, not raised."""
    d, _, _ = door(scenario)
    reply = d.submit(cmd("pause", "clock"), "trainer")
    assert (reply.ok, reply.code) == (False, "not_allowed_in_state")


def test_refused_commands_leave_the_results_untouched(
    scenario: Callable[[str], Scenario],
) -> None:
    """A run that refused a hundred bad commands ends exactly like one that got none."""
    d, line, _ = door(scenario)
    for i in range(100):
        d.submit(cmd("maintain", f"X{i}.0", f"bad{i}", duration=60), "trainer")
        d.submit({"junk": i}, "trainer")
    line.env.run(until=7200)
    from models.kpi import collect

    assert collect(line, 7200) == run_replication(scenario(LINE), 0)


def test_the_command_schema_lists_every_action() -> None:
    """The JSON Schema that the birth message carries names every action."""
    text = str(command_schema())
    for action in ("hold", "release", "maintain", "fail", "speed", "release_rate", "mix"):
        assert f"'{action}'" in text
