"""The live server: one replication of a scenario, paced, streamed over ZeroMQ, commanded.

One thread owns everything: the :class:`~twin.pacing.Pacer` advances the simulation and,
whenever it waits, calls :meth:`Server._poll`, which serves the sockets: new subscriptions
on the XPUB stream socket, and requests on the ROUTER control socket (snapshots, commands).
Changes of the line go out in the order they happen: one message each, or, as fast as
possible, in batches that the poll flushes (bridges/outbox.py). docs/protocol.md specifies
the messages.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import simpy
import zmq

from bridges.keys import Gatekeeper, clients, secure_server, server_keys
from bridges.outbox import Outbox
from bridges.wire import (
    BATCH,
    BATCH_MAX,
    CHANNELS,
    MAX_REQUEST,
    Codec,
    change_body,
    encode_body,
    frames,
    topic,
)
from scenarios.builder import build
from scenarios.commands import Door, Role, command_schema
from scenarios.experiment import collect, sample
from scenarios.layout import layout
from scenarios.overrides import override
from scenarios.schema import Scenario
from twin.changes import Change, Row
from twin.pacing import Pacer

SNAPSHOT_CHUNK = 500  # records per snapshot reply
_MORE = zmq.SNDMORE | zmq.NOBLOCK
ROLES = ("viewer", "agent", "trainer")
# A stream message's header (bridges.wire.header), formatted directly: times are finite, and
# written by orjson (the shortest form that reads back as the same number, as repr's, in a
# quarter of the time).
_HEAD = b'{"epoch":%d,"seq":%d,"sim_t":%b,"wall_t":%b,"codec":"%s"}'
_number = orjson.dumps
_CODECS = {"json": b"json", "msgpack": b"msgpack"}
MAX_AGENTS = 256
DEATH_PATIENCE = 2.0  # wall seconds death waits for room in subscribers' queues


# The JSON Schema of a command, for births: the same for every server, and slow to make.
_command_schema = functools.cache(command_schema)


def _auto_sampling(horizon: float, speed: float | None) -> float:
    if speed is not None:
        return 60.0
    return max(60.0, horizon / 200.0) if math.isfinite(horizon) else 60.0


def floor_plan(scenario: Scenario) -> dict[str, Any]:
    """Where everything stands on the floor (metres, degrees): the scenario's ``layout``,
    completed by the automatic one (scenarios/layout.py)."""
    plan = layout(scenario)
    return {
        "source": "scenario" if scenario.layout else "automatic",
        "stations": {
            p.id: {
                "x": p.x,
                "y": p.y,
                "rotation": p.rotation,
                "machines": [list(m) for m in p.machines],
                "rack": list(p.rack) if p.rack is not None else None,
            }
            for p in plan.places
        },
    }


@dataclass
class Agent:
    """An agent registered for lock-step: its name, and the barrier it is ready for."""

    name: str
    ready: float


@dataclass
class Settings:
    """How to serve: addresses, codec, pace, and how many subscribers to wait for."""

    pub: str = "tcp://127.0.0.1:5556"
    ctl: str = "tcp://127.0.0.1:5557"
    codec: Codec = "json"
    speed: float | None = None  # None: as fast as possible
    lockstep: float | None = None
    wait: int = 0
    heartbeat: float = 0.5  # seconds of wall time between heartbeats
    hwm: int = 100_000  # messages queued per subscriber before ZeroMQ drops for it
    role: Role = "trainer"  # the role of every client when no keys are used
    curve: Path | None = None  # a key directory (`twin keys init`): CurveZMQ, roles by key
    # Simulated seconds between two kpi/ messages; None: every minute in real time, else
    # 200 over the horizon (a fast run is not slowed by samples nobody watches one by one).
    kpi_every: float | None = None
    agents: int = 0  # lock-step: hold the clock at 0 until this many agents have registered
    agent_timeout: float = 10.0  # lock-step: wall seconds an agent may take at a barrier
    on_late: Callable[[float, list[str]], None] | None = None  # told of agents dropped as late
    # State changes in batches (state/*/); None: when as fast as possible (no speed, no
    # lock-step), where one message per change would cost more than the simulation.
    batch: bool | None = None
    batch_max: int = BATCH_MAX  # changes in one batch message


class Server:
    """Serves ``scenario`` (replication 0) until its horizon, a stop, or Ctrl-C."""

    def __init__(self, scenario: Scenario, settings: Settings | None = None) -> None:
        self.scenario = scenario
        self.settings = settings or Settings()
        self.ctx = zmq.Context()
        self.roles: dict[str, Role] = {}  # client name -> role, with keys
        self.gate: Gatekeeper | None = None
        if self.settings.curve is not None:
            listed = clients(self.settings.curve)
            keys = server_keys(self.settings.curve)
            self.roles = {c.name: c.role for c in listed.values()}
            self.gate = Gatekeeper(self.ctx, listed)
            self.gate.start()  # before any socket binds: no handshake goes unchecked
        self.pub = self.ctx.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.SNDHWM, self.settings.hwm)
        # Every subscription and unsubscription reaches the server, also repeated ones
        # (two clients subscribing to everything are two subscribers for --wait).
        self.pub.setsockopt(zmq.XPUB_VERBOSER, 1)
        # A send that would overflow a subscriber's queue fails instead of dropping silently:
        # it is then counted and sent again, lossily (see _send).
        self.pub.setsockopt(zmq.XPUB_NODROP, 1)
        self.pub.setsockopt(zmq.LINGER, 500)
        self.ctl = self.ctx.socket(zmq.ROUTER)
        self.ctl.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.ctl.setsockopt(zmq.LINGER, 500)
        self.ctl.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST)
        if self.settings.curve is not None:
            secure_server(self.pub, *keys)
            secure_server(self.ctl, *keys)
        # The socket's send without pyzmq's Python wrapper (which checks for options that
        # the stream never uses): a third of the cost of a message.
        self._send_frame = functools.partial(zmq.backend.Socket.send, self.pub)
        self._queued: list[bytes] = []  # stream messages' frames made, not yet sent
        self.pub.bind(self.settings.pub)
        self.ctl.bind(self.settings.ctl)
        # The bound addresses (a port given as * is chosen by the system).
        self.pub_address = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.ctl_address = self.ctl.getsockopt_string(zmq.LAST_ENDPOINT)
        self.poller = zmq.Poller()
        self.poller.register(self.pub, zmq.POLLIN)
        self.poller.register(self.ctl, zmq.POLLIN)
        self.epoch = 0
        self.subscriptions = 0
        self.refused = 0
        self.dropped = 0  # messages not delivered to some subscriber (its queue was full)
        self.applied: list[dict[str, Any]] = []
        # Agents registered for lock-step, by their control identity: name, and the last
        # barrier time they said they are ready for.
        self.agents: dict[bytes, Agent] = {}
        s = self.settings
        self.batching = s.batch if s.batch is not None else s.speed is None and s.lockstep is None
        self._last_beat = 0.0
        self._rebirth = False
        self._running = False  # once the wait for subscribers is over
        self._commands = _command_schema()  # before anyone waits for a birth
        self._start(scenario)

    # -- the run ----------------------------------------------------------------------------

    def _start(self, scenario: Scenario) -> None:
        """A new epoch: the line built afresh, sequence numbers from 0, a birth message."""
        self.model = scenario
        self.seq = dict.fromkeys(CHANNELS, 0)
        self.env = simpy.Environment()
        s = self.settings
        self.changes = Outbox(self._rows, self._event, s.batch_max)
        self.line = build(self.env, scenario, 0, self.changes)
        self.changes.live = True
        self.pacer = Pacer(
            self.env,
            scenario.horizon,
            self._poll,
            speed=s.speed,
            lockstep=s.lockstep,
            barrier=self._barrier,
            sample_every=s.kpi_every or _auto_sampling(scenario.horizon, s.speed),
            sample=self._kpi,
        )
        self.door = Door(self.line, clock=self, counter=lambda: self.pacer.events)
        self._layout = floor_plan(scenario)
        self._reset_to: int | None = None
        for agent in self.agents.values():
            agent.ready = 0.0  # a new epoch's clock starts again at 0
        if self.epoch > 0:
            self._send("birth", None, self.birth())

    def run(self) -> dict[str, Any]:
        """Serve until the horizon; return the KPIs of the run. Always sends death."""
        try:
            self._wait_for_subscribers()
            if self.seq["birth"] == 0:  # none yet (the last awaited subscriber had one)
                self._send("birth", None, self.birth())
            self._running = True
            while True:
                self.pacer.run()
                if self._reset_to is None:
                    break
                seed = self._reset_to
                self.changes.flush()  # the old epoch's last changes
                self.applied.extend(self.door.applied)
                self.epoch += 1
                self._start(override(self.model, {"seed": seed}))
            self.applied.extend(self.door.applied)
            return collect(self.line, self.env.now)
        finally:
            self.changes.flush()
            death = {"sim_t": self.env.now, "reason": "end", "dropped": self.dropped}
            self._send("death", None, death, patience=DEATH_PATIENCE)
            self.close()

    def close(self) -> None:
        self.pub.close()
        self.ctl.close()
        if self.gate is not None:
            self.gate.stop()
        self.ctx.term()

    def _wait_for_subscribers(self) -> None:
        """Hold the clock at 0 until --wait subscribers (and, in lock-step, --agents agents)."""
        while self.subscriptions < self.settings.wait or len(self.agents) < self.settings.agents:
            self._poll(0.05)

    # -- lock-step ------------------------------------------------------------------------

    def _barrier(self, t: float) -> None:
        """The clock is at ``t``: announce it, then wait until every registered agent says
        it is ready for ``t`` (its commands, sent before, are applied at ``t``). An agent
        that takes longer than ``agent_timeout`` is named and dropped, so the run goes on."""
        self._send("event", "lockstep", {"t": t, "agents": self._names(self.agents)})
        deadline = time.monotonic() + self.settings.agent_timeout
        while not self.pacer.stopped:
            waiting = {k: a for k, a in self.agents.items() if a.ready < t}
            if not waiting:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                late = self._names(waiting)
                for key in waiting:
                    del self.agents[key]
                self._send("event", "lockstep", {"t": t, "late": late})
                if self.settings.on_late is not None:
                    self.settings.on_late(t, late)
                return
            self._poll(min(left, 0.05))

    @staticmethod
    def _names(agents: dict[bytes, Agent]) -> list[str]:
        return sorted(a.name for a in agents.values())

    def _register(
        self, identity: bytes, request: dict[str, Any], role: Role
    ) -> list[dict[str, Any]]:
        if role == "viewer":  # an agent that holds the clock at every barrier is no viewer
            reason = "a viewer may not register"
            return [{"type": "error", "code": "forbidden", "reasons": [reason]}]
        name = request.get("name")
        if not (isinstance(name, str) and 0 < len(name) <= 64 and name.isprintable()):
            self.refused += 1
            reason = "register: name must be a printable string of 1 to 64 characters"
            return [{"type": "error", "code": "invalid", "reasons": [reason]}]
        taken = {a.name for key, a in self.agents.items() if key != identity}
        if name in taken:
            reason = f"register: an agent named {name!r} is registered already"
            return [{"type": "error", "code": "invalid", "reasons": [reason]}]
        if len(self.agents) >= MAX_AGENTS and identity not in self.agents:
            reason = f"register: at most {MAX_AGENTS} agents"
            return [{"type": "error", "code": "invalid", "reasons": [reason]}]
        self.agents[identity] = Agent(name, self.env.now)
        return [
            {
                "type": "registered",
                "name": name,
                "lockstep": self.settings.lockstep,
                "sim_t": self.env.now,
            }
        ]

    def _ready(self, identity: bytes, request: dict[str, Any]) -> list[dict[str, Any]]:
        agent = self.agents.get(identity)
        t = request.get("t")
        if agent is None or not isinstance(t, int | float) or isinstance(t, bool):
            self.refused += 1
            reason = "ready: register first, and give the barrier time t (seconds)"
            return [{"type": "error", "code": "invalid", "reasons": [reason]}]
        agent.ready = max(agent.ready, float(t))
        return []

    def _unregister(self, identity: bytes, _: dict[str, Any]) -> list[dict[str, Any]]:
        agent = self.agents.pop(identity, None)
        return [{"type": "unregistered", "name": agent.name if agent else None}]

    # -- the clock controls the door hands on ---------------------------------------------

    def pause(self) -> None:
        self.pacer.pause()

    def resume(self) -> None:
        self.pacer.resume()

    def step(self, duration: float | None) -> None:
        self.pacer.step(duration)

    def set_speed(self, factor: float) -> None:
        self.pacer.set_speed(factor)

    def reset(self, seed: int | None) -> None:
        """End this epoch at once and start the line again, same or new seed."""
        self._reset_to = self.model.seed if seed is None else seed
        self.pacer.stop()

    # -- publishing -----------------------------------------------------------------------

    def _rows(self, rows: list[Row]) -> None:
        """State changes from the outbox: one batch message, or (not batching) one each."""
        if self.batching:
            self._stream("state", BATCH, rows[-1][0], rows)
            return
        for row in rows:
            self._stream("state", row[1], row[0], change_body(Change(*row)))

    def _event(self, change: Change) -> None:
        self._stream("event", change.scope, change.time, change_body(change))

    def _stream(self, channel: str, entity: str | None, sim_t: float, body: Any) -> None:
        """A state, event or kpi message: the hot path of a live run, kept short (the same
        message as :meth:`_send` makes, built with less work; the caller flushes first).

        It is numbered and made now, and queued: the queue goes to ZeroMQ, in its order,
        whenever the server serves its sockets or sends anything else (:meth:`_drain`)."""
        seq = self.seq[channel] = self.seq[channel] + 1
        codec = self.settings.codec
        head = _HEAD % (self.epoch, seq, _number(sim_t), _number(time.time()), _CODECS[codec])
        self._queued += (topic(channel, entity), head, encode_body(body, codec))

    def _drain(self) -> None:
        """Hand the queued messages to ZeroMQ, back to back. One at a time, each would wake
        ZeroMQ's I/O thread anew, which costs the simulating thread more than the send (tens
        of microseconds on a virtual machine); back to back, one wake-up serves many. A
        subscriber whose queue is full loses a message (counted), the others do not."""
        queued = self._queued
        if not queued:
            return
        send = self._send_frame
        for i in range(0, len(queued), 3):
            try:
                send(queued[i], _MORE)
            except zmq.Again:
                self._lossy(queued[i : i + 3])
                continue
            send(queued[i + 1], _MORE)
            send(queued[i + 2], zmq.NOBLOCK)
        queued.clear()

    def _lossy(self, parts: list[bytes]) -> None:
        """Send a message that some subscriber has no room for: it loses it (counted)."""
        self.dropped += 1
        pub = self.pub
        pub.setsockopt(zmq.XPUB_NODROP, 0)
        pub.send(parts[0], _MORE)
        pub.send(parts[1], _MORE)
        pub.send(parts[2], zmq.NOBLOCK)
        pub.setsockopt(zmq.XPUB_NODROP, 1)

    def _send(
        self,
        channel: str,
        entity: str | None,
        body: Any,
        sim_t: float | None = None,
        patience: float = 0.0,
    ) -> None:
        """Publish one message. A subscriber past its high-water mark loses it, after
        ``patience`` seconds of waiting for room (none while the run goes on; a little for
        death, so that readers that are only behind learn that the run has ended). The
        changes waiting in the outbox, and the messages queued, go first: they happened
        before."""
        self.changes.flush()
        self._drain()
        self.seq[channel] += 1
        now = self.env.now if sim_t is None else sim_t
        seq, codec = self.seq[channel], self.settings.codec
        parts = frames(channel, entity, body, self.epoch, seq, now, codec)
        # Three sends cost a third of one send_multipart, which checks each frame in Python.
        pub = self.pub
        deadline = time.monotonic() + patience
        while patience and time.monotonic() < deadline:
            try:
                pub.send(parts[0], _MORE)
            except zmq.Again:
                time.sleep(0.01)
                continue
            pub.send(parts[1], _MORE)
            pub.send(parts[2], zmq.NOBLOCK)
            return
        try:
            pub.send(parts[0], _MORE)
        except zmq.Again:  # a subscriber's queue is full: it loses this message, others not
            self._lossy(parts)
            return
        pub.send(parts[1], _MORE)
        pub.send(parts[2], zmq.NOBLOCK)

    def _kpi(self, t: float) -> None:
        """A kpi/ message: the headline KPIs so far at simulated time ``t`` (after the
        changes before it)."""
        self.changes.flush()
        self._stream("kpi", None, t, sample(self.line, t))

    def birth(self) -> dict[str, Any]:
        """What the line is: its entities, their kinds and metrics, and the commands."""
        self.changes.flush()  # the seq below stands for every change before
        entities: list[dict[str, Any]] = [{"scope": "line", "kind": "line"}]
        for st in self.line.stations.values():
            entities.append({"scope": st.id, "kind": "station", "machines": len(st.machines)})
            entities.append(
                {"scope": st.buffer_scope, "kind": "buffer", "metrics": {"level": "parts"}}
            )
            for m in st.machines:
                machine: dict[str, Any] = {"scope": m.scope, "kind": "machine"}
                link = self.line.connected.get(m.scope)
                if link is not None:
                    machine["link"] = link  # connected to the plant network
                entities.append({**machine, "metrics": {"state": "state"}})
        for sensor in self.line.sensors:
            entities.append(
                {
                    "scope": sensor.scope,
                    "kind": "sensor",
                    "machine": sensor.machine.scope,
                    "metrics": {"reading": sensor.measures},
                }
            )
        for conveyor in self.line.conveyors:
            entities.append(
                {
                    "scope": conveyor.scope,
                    "kind": "conveyor",
                    "capacity": conveyor.capacity,
                    "metrics": {"level": "parts"},
                }
            )
        fleet = [self.line.fleet] if self.line.fleet is not None else []
        for pool in [*self.line.pools.values(), *fleet]:
            kind = "vehicles" if pool is self.line.fleet else "operators"
            entities.append(
                {"scope": pool.scope, "kind": kind, "count": pool.count, "metrics": {"level": kind}}
            )
        for crew in self.line.crews.values():
            entities.append(
                {
                    "scope": crew.scope,
                    "kind": "crew",
                    "count": crew.count,
                    "metrics": {"level": "technicians"},
                }
            )
        return {
            "scenario": self.model.name,
            "horizon": self.model.horizon,
            "seed": self.model.seed,
            "entities": entities,
            "layout": self._layout,
            "commands": self._commands,
            "batch": self.batching,  # state changes come as batches, on state/*/
            # The current values of everything (as Sparkplug's birth certificates carry
            # them), and the last seq of each channel they stand for.
            "seq": dict(self.seq),
            "snapshot": [change_body(c) for c in self.line.snapshot()],
        }

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat < self.settings.heartbeat:
            return
        self._last_beat = now
        self.changes.flush()
        body = {
            "last_seq": dict(self.seq),
            "clock": self.pacer.clock(),
            "lag": self.pacer.lag,
            "paused": self.pacer.paused,
            "subscriptions": self.subscriptions,
            "refused": self.refused,
            "dropped": self.dropped,
        }
        self._send("hb", None, body)

    # -- serving the sockets --------------------------------------------------------------

    def _poll(self, timeout: float) -> None:
        self.changes.flush()  # in a fast run, what the events since the last poll changed
        self._drain()
        events = dict(self.poller.poll(timeout=max(0, int(timeout * 1000))))
        if self.pub in events:
            self._subscriptions()
            if self._rebirth and (self._running or self.subscriptions >= self.settings.wait):
                self._rebirth = False  # a newcomer learns what the line is (Sparkplug's rebirth)
                self._send("birth", None, self.birth())
        if self.ctl in events:
            for _ in range(100):  # bounded: the run goes on under a flood
                try:
                    frames_ = self.ctl.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._request([f.bytes for f in frames_], self._role(frames_[-1]))
        self._heartbeat()

    def _subscriptions(self) -> None:
        while True:
            try:
                message = self.pub.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            if message[:1] == b"\x01":
                self.subscriptions += 1
                self._rebirth = True
            elif message[:1] == b"\x00":
                self.subscriptions = max(0, self.subscriptions - 1)

    def _role(self, frame: zmq.Frame) -> Role:
        """The sender's role: by its key's name with keys (the gatekeeper names each
        connection), else the server's default."""
        if self.gate is None:
            return self.settings.role
        return self.roles.get(str(frame.get("User-Id")), "viewer")

    def _request(self, parts: list[bytes], role: Role) -> None:
        identity = parts[0]
        reply = self._answer(identity, parts[1:], role)
        for body in reply:
            try:
                self.ctl.send_multipart([identity, json.dumps(body).encode()], flags=zmq.NOBLOCK)
            except zmq.ZMQError:
                return  # the client is gone, or not reading: never wait for it

    def _answer(self, identity: bytes, frames_: list[bytes], role: Role) -> list[dict[str, Any]]:
        try:
            if len(frames_) != 1:
                raise ValueError(f"a request is one frame, got {len(frames_)}")
            request = json.loads(frames_[0])
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            self.refused += 1
            return [{"type": "error", "code": "invalid", "reasons": [str(exc)[:200]]}]
        handlers: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
            "snapshot": self._snapshot,
            "command": lambda r: self._command(r, role),
            "birth": lambda _: [{"type": "birth", "epoch": self.epoch, **self.birth()}],
            "register": lambda r: self._register(identity, r, role),
            "ready": lambda r: self._ready(identity, r),
            "unregister": lambda r: self._unregister(identity, r),
        }
        kind = request.get("type")
        handler = handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.refused += 1
            known = ", ".join(handlers)
            return [
                {"type": "error", "code": "invalid", "reasons": [f"type must be one of: {known}"]}
            ]
        return handler(request)

    def _snapshot(self, _: dict[str, Any]) -> list[dict[str, Any]]:
        self.changes.flush()  # the seq below stands for every change before
        records = [change_body(c) for c in self.line.snapshot()]
        chunks = [records[i : i + SNAPSHOT_CHUNK] for i in range(0, len(records), SNAPSHOT_CHUNK)]
        chunks = chunks or [[]]
        return [
            {
                "type": "snapshot",
                "epoch": self.epoch,
                "seq": dict(self.seq),
                "sim_t": self.env.now,
                "chunk": i,
                "of": len(chunks),
                "records": chunk,
            }
            for i, chunk in enumerate(chunks)
        ]

    def _command(self, request: dict[str, Any], role: Role) -> list[dict[str, Any]]:
        reply = self.door.submit(request.get("command"), role)
        if not reply.ok and reply.code == "invalid":
            self.refused += 1
        answer = {"type": "reply", **reply.to_dict()}
        self._send("event", "commands", answer)
        return [answer]
