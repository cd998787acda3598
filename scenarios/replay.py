"""Replaying the commands a live run applied: the same results, without the network.

A live run records each command it applied with the number of events the simulation had run
(``event``) when it was applied. A replay runs the same replication event by event and
applies each command after the same number of events (and at the same simulated time, when
the live clock had moved on without an event, as at a lock-step barrier), so the sample path,
and every figure, is the live run's to the bit. Clock commands (pause, resume, step, speed of
the clock) do not change a run and are skipped; a run that was reset cannot be replayed as
one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import simpy

from models.kpi import collect
from scenarios.builder import build
from scenarios.commands import CLOCK, CLOCK_ACTIONS, Door
from scenarios.schema import Scenario
from twin.errors import SimulationError, UsageError
from twin.pacing import move_clock

OPTION = "option --commands"


def load_commands(path: Path) -> list[dict[str, Any]]:
    """The applied commands of a live run (its ``commands.json``), checked."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{OPTION}: cannot read {path}: {exc}") from None
    if not isinstance(data, list):
        raise UsageError(f"{OPTION}: {path} must hold a list of applied commands")
    for i, entry in enumerate(data):
        where = f"{OPTION}: {path}: entry {i}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: expected an object")
        event = entry.get("event")
        if isinstance(event, bool) or not isinstance(event, int) or event < 0:
            raise UsageError(f"{where}: 'event' must be the number of events run, got {event!r}")
        if entry.get("action") == "reset":
            raise UsageError(f"{where}: the run was reset; replay one epoch at a time")
    return sorted(data, key=lambda entry: int(entry["event"]))


def replay(scenario: Scenario, commands: list[dict[str, Any]]) -> dict[str, Any]:
    """Replication 0 of ``scenario`` with ``commands`` applied as recorded; its KPIs."""
    env = simpy.Environment()
    line = build(env, scenario, 0)
    door = Door(line)
    pending = [c for c in commands if not _clock(c)]
    events = 0
    i = 0
    while True:
        while i < len(pending) and pending[i]["event"] <= events:
            events += _catch_up(env, pending[i])
            _apply(door, pending[i])
            i += 1
        if env.peek() >= scenario.horizon:
            break
        env.step()
        events += 1
    if env.now < scenario.horizon:
        move_clock(env, scenario.horizon)
    return collect(line, env.now)


def _catch_up(env: simpy.Environment, entry: dict[str, Any]) -> int:
    """Move the clock to where the command took effect when no event lies in between (a
    lock-step barrier, a paused clock stepped by a duration); the events run on the way."""
    at = entry.get("at")
    if isinstance(at, int | float) and env.now < at <= env.peek():
        return move_clock(env, at)
    return 0


def _clock(entry: dict[str, Any]) -> bool:
    action = entry.get("action")
    return action in CLOCK_ACTIONS or (action == "speed" and entry.get("target") == CLOCK)


def _apply(door: Door, entry: dict[str, Any]) -> None:
    message = {k: entry.get(k) for k in ("cmd_id", "action", "target", "params")}
    reply = door.submit(message, "trainer")
    if not reply.ok:
        raise SimulationError(
            f"command {entry.get('cmd_id')!r} ({entry.get('action')} {entry.get('target')}) "
            f"could not be replayed at event {entry['event']}: {reply.code}: "
            + "; ".join(reply.reasons)
        )
