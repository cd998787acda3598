"""Replaying a live run's commands: the same figures to the bit, without the network."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import simpy
from lines import invoke

from models.kpi import collect
from scenarios.builder import build
from scenarios.commands import Door
from scenarios.experiment import run_replication
from scenarios.replay import replay
from scenarios.schema import Scenario
from twin.pacing import Pacer

LINE = """\
name: replayed
seed: 21
horizon: 2h
arrivals:
  interarrival: {dist: exponential, mean: 40s}
stations:
  - id: M1
    servers: 2
    input_buffer: 3
    process_time: {dist: exponential, mean: 70s}
    failures: {mtbf: {dist: weibull, shape: 2, scale: 40min}, mttr: 3min}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 30s, cv: 0.5}
    failures: {mtbf: {dist: exponential, mean: 30min}, mttr: 2min, basis: calendar}
"""

# What a trainer and an agent do during the run, at the n-th poll of the pacer.
SCRIPT: dict[int, dict[str, Any]] = {
    3: {"action": "hold", "target": "M2"},
    5: {"action": "release", "target": "M2"},
    7: {"action": "maintain", "target": "M1.0", "params": {"duration": "10min"}},
    9: {"action": "fail", "target": "M2.0", "params": {"repair": 200}},
    11: {"action": "speed", "target": "M1", "params": {"factor": 0.8}},
    13: {"action": "release_rate", "target": "arrivals", "params": {"factor": 1.3}},
    15: {"action": "pause", "target": "clock"},
    16: {"action": "resume", "target": "clock"},
}


class Clock:
    """The pacer's controls, as the door sees them."""

    def __init__(self) -> None:
        self.pacer: Pacer | None = None

    def pause(self) -> None:
        assert self.pacer is not None
        self.pacer.pause()

    def resume(self) -> None:
        assert self.pacer is not None
        self.pacer.resume()

    def step(self, duration: float | None) -> None:
        raise AssertionError("not used")

    def set_speed(self, factor: float) -> None:
        raise AssertionError("not used")

    def reset(self, seed: int | None) -> None:
        raise AssertionError("not used")


def live(model: Scenario) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A paced run whose commands arrive between events, as they do from the network."""
    env = simpy.Environment()
    line = build(env, model, 0)
    clock = Clock()
    polls = 0

    def poll(timeout: float) -> None:
        nonlocal polls
        polls += 1
        if polls in SCRIPT:
            reply = door.submit({"cmd_id": f"c{polls}", **SCRIPT[polls]}, "trainer")
            assert reply.ok, reply

    pacer = Pacer(env, model.horizon, poll, fast_poll_every=23)
    clock.pacer = pacer
    door = Door(line, clock=clock, counter=lambda: pacer.events)
    pacer.run()
    return collect(line, env.now), door.applied


def test_a_replay_gives_the_live_run_to_the_bit(scenario: Callable[[str], Scenario]) -> None:
    """Every command at the same event count: the same figures, though the commands changed
    them (the run without commands differs)."""
    model = scenario(LINE)
    kpis, applied = live(model)
    assert [c["action"] for c in applied] == [s["action"] for s in SCRIPT.values()]
    assert replay(model, applied) == kpis
    assert kpis != run_replication(model, 0)
    assert kpis["stations"]["M1"]["maintenances"] == 1.0


def test_twin_run_replays_a_commands_file(
    scenario: Callable[[str], Scenario], scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin run --commands` prints and writes the replayed run's figures."""
    kpis, applied = live(scenario(LINE))
    path = scenario_file(LINE)
    commands = tmp_path / "commands.json"
    commands.write_text(json.dumps(applied), encoding="utf-8")
    out = tmp_path / "replayed.json"
    result = invoke("run", str(path), "--commands", str(commands), "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["replications"] == 1
    assert doc["line"]["throughput_per_hour"]["values"] == [kpis["line"]["throughput_per_hour"]]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "option --commands: cannot read"),
        ('{"a": 1}', "must hold a list of applied commands"),
        ('[{"action": "hold"}]', "entry 0: 'event' must be the number of events run"),
        ('[{"event": 3, "action": "reset", "target": "clock"}]', "the run was reset"),
    ],
)
def test_a_bad_commands_file_is_refused(
    scenario_file: Callable[..., Path], tmp_path: Path, content: str, message: str
) -> None:
    """A file that is not a live run's commands: exit 2, naming the option and the entry."""
    commands = tmp_path / "commands.json"
    commands.write_text(content, encoding="utf-8")
    result = invoke("run", str(scenario_file(LINE)), "--commands", str(commands))
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_command_that_no_longer_applies_fails_the_replay(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """A command for a machine the scenario does not have: exit 1, saying which and why."""
    commands = tmp_path / "commands.json"
    entry = {"event": 10, "cmd_id": "x", "action": "maintain", "target": "M7.0"}
    commands.write_text(json.dumps([entry | {"params": {"duration": 60}}]), encoding="utf-8")
    result = invoke("run", str(scenario_file(LINE)), "--commands", str(commands))
    assert result.exit_code == 1
    assert "command 'x' (maintain M7.0) could not be replayed at event 10" in result.stderr
