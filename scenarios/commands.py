"""The one door for commands: validated, authorised, applied at a simulation time, answered.

A command is a small JSON object, the same from a test, an edge agent or a trainer::

    {"cmd_id": "a7", "action": "maintain", "target": "TURN.0", "params": {"duration": "45min"}}

:meth:`Door.submit` validates it (pydantic), checks the sender's role, resolves the target
and applies it to the line at the current simulation time. The reply is an acknowledgement
with that time, or a refusal with a code and reasons (an unknown target lists the known
ones). A repeated ``cmd_id`` gets the first answer again and is not applied twice. Nothing
a command does raises into the simulation; an applied command enters the change stream as a
``command`` record on its target's scope.

Refusal codes: ``invalid`` (not a command: the reasons name the field), ``forbidden``
(not for this role), ``unknown_target``, ``not_allowed_in_state``, ``bad_parameter``,
``failed`` (an unexpected error, reported rather than raised).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from models.actions import Refused
from models.line import Line
from models.station import Machine, Station
from twin.distributions import Duration, PositiveDuration

Role = Literal["viewer", "agent", "trainer"]
Factor = Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
CmdId = Annotated[str, Field(min_length=1, max_length=64)]
Target = Annotated[str, Field(min_length=1, max_length=128)]

CLOCK = "clock"
ARRIVALS = "arrivals"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    cmd_id: CmdId
    target: Target


class NoParams(_Params):
    """Commands that take no parameters."""


class Hold(_Command):
    """A station finishes the part in hand and takes no new one (state ``held``)."""

    action: Literal["hold"]
    params: NoParams = NoParams()


class Release(_Command):
    """A held station takes parts again."""

    action: Literal["release"]
    params: NoParams = NoParams()


class MaintainParams(_Params):
    duration: PositiveDuration


class Maintain(_Command):
    """A planned stop of a machine once its part is done; it comes back as good as new."""

    action: Literal["maintain"]
    params: MaintainParams


class FailParams(_Params):
    repair: Duration | None = None


class Fail(_Command):
    """A machine breaks down now, for ``repair`` seconds (default: drawn from its MTTR)."""

    action: Literal["fail"]
    params: FailParams = FailParams()


class FactorParams(_Params):
    factor: Factor


class Speed(_Command):
    """A station's process times are multiplied by ``factor`` (target a station), or the
    clock runs ``factor`` times real time (target ``clock``)."""

    action: Literal["speed"]
    params: FactorParams


class ReleaseRate(_Command):
    """Parts arrive ``factor`` times as often (target ``arrivals``)."""

    action: Literal["release_rate"]
    params: FactorParams


class MixParams(_Params):
    mix: Annotated[dict[str, Annotated[float, Field(ge=0)]], Field(min_length=1, max_length=1000)]


class Mix(_Command):
    """The products that enter, by share (target ``arrivals``)."""

    action: Literal["mix"]
    params: MixParams


class Pause(_Command):
    """The clock stops (target ``clock``)."""

    action: Literal["pause"]
    params: NoParams = NoParams()


class Resume(_Command):
    """The clock goes on (target ``clock``)."""

    action: Literal["resume"]
    params: NoParams = NoParams()


class StepParams(_Params):
    duration: Duration | None = None


class Step(_Command):
    """A paused clock advances to the next event, or by ``duration`` (target ``clock``)."""

    action: Literal["step"]
    params: StepParams = StepParams()


class ResetParams(_Params):
    seed: Annotated[int, Field(ge=0, lt=2**63, strict=True)] | None = None


class Reset(_Command):
    """The run starts again in a new epoch, with the same or a new seed (target ``clock``)."""

    action: Literal["reset"]
    params: ResetParams = ResetParams()


Command = Annotated[
    Hold | Release | Maintain | Fail | Speed | ReleaseRate | Mix | Pause | Resume | Step | Reset,
    Field(discriminator="action"),
]
_COMMAND: TypeAdapter[Any] = TypeAdapter(Command)
ACTIONS = (
    "hold",
    "release",
    "maintain",
    "fail",
    "speed",
    "release_rate",
    "mix",
    "pause",
    "resume",
    "step",
    "reset",
)

# What each role may do; a trainer may do everything.
AGENT_ACTIONS = frozenset({"hold", "release", "maintain", "speed", "release_rate", "mix"})
CLOCK_ACTIONS = frozenset({"pause", "resume", "step", "reset"})


def parse_command(message: Any) -> Any:
    """The command ``message`` describes; raises pydantic's ValidationError if none."""
    return _COMMAND.validate_python(message)


def command_schema() -> dict[str, Any]:
    """The JSON Schema of a command, for clients (and the bridge's birth message)."""
    schema: dict[str, Any] = _COMMAND.json_schema()
    return schema


class Clock(Protocol):
    """What the pacing driver offers the door: the trainer's controls of time."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def step(self, duration: float | None) -> None: ...
    def set_speed(self, factor: float) -> None: ...
    def reset(self, seed: int | None) -> None: ...


@dataclass(frozen=True)
class Reply:
    """The answer to one command: applied at ``at`` (simulated seconds), or refused."""

    cmd_id: str | None
    ok: bool
    at: float | None = None
    code: str | None = None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        if self.ok:
            return {"cmd_id": self.cmd_id, "ok": True, "at": self.at}
        return {
            "cmd_id": self.cmd_id,
            "ok": False,
            "code": self.code,
            "reasons": list(self.reasons),
        }


def _refuse(cmd_id: str | None, code: str, *reasons: str) -> Reply:
    return Reply(cmd_id, False, code=code, reasons=reasons)


@dataclass
class Door:
    """Commands for one line (one replication), from any number of senders."""

    line: Line
    clock: Clock | None = None
    counter: Callable[[], int] | None = None  # events run so far, recorded with each command
    remember: int = 10_000
    applied: list[dict[str, Any]] = field(default_factory=list)
    _answers: OrderedDict[str, Reply] = field(default_factory=OrderedDict)

    def submit(self, message: Any, role: Role) -> Reply:
        """Validate, authorise and apply one command; never raises."""
        cmd_id = _cmd_id(message)
        if cmd_id is not None and cmd_id in self._answers:
            return self._answers[cmd_id]
        reply = self._answer(message, role, cmd_id)
        if cmd_id is not None and reply.code not in ("invalid", "forbidden"):
            self._answers[cmd_id] = reply
            while len(self._answers) > self.remember:
                self._answers.popitem(last=False)
        return reply

    def _answer(self, message: Any, role: Role, cmd_id: str | None) -> Reply:
        try:
            command = parse_command(message)
        except ValidationError as exc:
            return _refuse(cmd_id, "invalid", *reasons(exc))
        if role == "viewer" or (role == "agent" and command.action not in AGENT_ACTIONS):
            article = "an" if role == "agent" else "a"
            return _refuse(cmd_id, "forbidden", f"{article} {role} may not {command.action}")
        if role == "agent" and command.action == "speed" and command.target == CLOCK:
            return _refuse(cmd_id, "forbidden", "only a trainer sets the speed of the clock")
        try:
            apply = self._resolve(command)
            apply()
        except Refused as exc:
            return _refuse(cmd_id, exc.code, exc.reason)
        except Exception as exc:  # a command must never take the simulation down
            return _refuse(cmd_id, "failed", f"{type(exc).__name__}: {exc}")
        return self._applied(command)

    def _applied(self, command: Any) -> Reply:
        now = self.line.env.now
        params = command.params.model_dump(mode="json", exclude_none=True)
        record = {"at": now, "cmd_id": command.cmd_id, "action": command.action}
        record |= {"target": command.target, "params": params}
        if self.counter is not None:
            record["event"] = self.counter()
        self.applied.append(record)
        changes = self.line.changes
        if changes.live:
            text = json.dumps({"cmd_id": command.cmd_id, "action": command.action, **params})
            changes.event((now, command.target, "command", -1, text))
        return Reply(command.cmd_id, True, at=now)

    def _resolve(self, command: Any) -> Callable[[], None]:
        """The call that applies ``command``; raises Refused for an unknown target."""
        action, target, params = command.action, command.target, command.params
        if action in CLOCK_ACTIONS or (action == "speed" and target == CLOCK):
            return self._clock(action, target, params)
        if action in ("hold", "release", "speed"):
            station = self._station(target)
            if action == "hold":
                return station.hold
            if action == "release":
                return station.unhold
            return lambda: station.set_speed(params.factor)
        if action in ("maintain", "fail"):
            machine = self._machine(target)
            if action == "maintain":
                return lambda: machine.maintain(params.duration)
            return lambda: machine.fail(params.repair)
        return self._arrivals(action, target, params)

    def _station(self, target: str) -> Station:
        station = self.line.stations.get(target)
        if station is None:
            raise Refused(
                "unknown_target", f"no station {target!r}; stations: {_known(self.line.stations)}"
            )
        return station

    def _machine(self, target: str) -> Machine:
        machines = {m.scope: m for st in self.line.stations.values() for m in st.machines}
        machine = machines.get(target)
        if machine is None:
            hint = f" (write {target}.0)" if f"{target}.0" in machines else ""
            raise Refused(
                "unknown_target", f"no machine {target!r}{hint}; machines: {_known(machines)}"
            )
        return machine

    def _arrivals(self, action: str, target: str, params: Any) -> Callable[[], None]:
        if target != ARRIVALS:
            raise Refused("unknown_target", f"{action} acts on target {ARRIVALS!r}, not {target!r}")
        arrivals = self.line.arrivals
        if action == "release_rate":
            if arrivals is None:
                raise Refused(
                    "not_allowed_in_state",
                    "the line is saturated: parts enter whenever there is room, at no set rate",
                )
            return lambda: arrivals.set_rate(params.factor)
        sources = [arrivals] if arrivals is not None else list(self.line.feeders)

        def set_mix() -> None:
            for source in sources:
                source.set_mix(params.mix)

        return set_mix

    def _clock(self, action: str, target: str, params: Any) -> Callable[[], None]:
        if target != CLOCK:
            raise Refused("unknown_target", f"{action} acts on target {CLOCK!r}, not {target!r}")
        clock = self.clock
        if clock is None:
            raise Refused("not_allowed_in_state", "this run has no live clock to control")
        calls: Mapping[str, Callable[[], None]] = {
            "pause": clock.pause,
            "resume": clock.resume,
            "step": lambda: clock.step(params.duration),
            "speed": lambda: clock.set_speed(params.factor),
            "reset": lambda: clock.reset(params.seed),
        }
        return calls[action]


def _cmd_id(message: Any) -> str | None:
    if isinstance(message, dict):
        value = message.get("cmd_id")
        if isinstance(value, str) and 0 < len(value) <= 64:
            return value
    return None


def _known(names: Mapping[str, Any]) -> str:
    listed = sorted(names)
    more = f", ... ({len(listed)} in all)" if len(listed) > 20 else ""
    return ", ".join(listed[:20]) + more


def reasons(exc: ValidationError) -> list[str]:
    """One short reason per problem: the field's dotted path, then what is wrong."""
    out = []
    for error in exc.errors()[:10]:
        loc = ".".join(str(part) for part in error["loc"] if part not in ACTIONS)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "union_tag_invalid":
            message = f"unknown action; known: {', '.join(ACTIONS)}"
        elif error["type"] == "union_tag_not_found":
            message = f"'action' is missing; one of: {', '.join(ACTIONS)}"
        out.append(f"{loc}: {message}" if loc else message)
    return out
