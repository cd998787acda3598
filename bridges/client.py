"""A client of the live bridge: connect, sync, keep a mirror of the line, send commands.

``TwinClient`` follows docs/protocol.md: it subscribes first, keeps what arrives, asks for a
snapshot, builds its mirror from it and applies only the later ``state/`` messages (a batch,
``state/*/``, like the messages of its changes one after the other). A jump in ``seq`` or a
new ``epoch`` means it missed something: it syncs again by itself. Commands
return a :class:`concurrent.futures.Future` that the reply resolves. Everything runs in the
caller's thread: call :meth:`TwinClient.poll` (or iterate :meth:`TwinClient.changes`) to
receive.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import zmq

from bridges.keys import CurveKeys, secure_client
from bridges.wire import BATCH_TOPIC, change_of, changes_of, parse
from twin.changes import Change, Mirror

Listener = Callable[[Change], None]
BarrierListener = Callable[[float], None]
# Seconds one poll may spend applying what has arrived before it returns to its caller.
POLL_BUDGET = 0.1


class SyncError(RuntimeError):
    """The server did not answer in time (is it running, at that address?)."""


class TwinClient:
    """One connection to a live server: its stream and its control socket."""

    def __init__(
        self, stream: str, control: str, *, timeout: float = 10.0, curve: CurveKeys | None = None
    ) -> None:
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.ctl = self.ctx.socket(zmq.DEALER)
        if curve is not None:  # a server started with --curve: this client's keys
            secure_client(self.sub, curve)
            secure_client(self.ctl, curve)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(stream)
        self.ctl.connect(control)
        self.timeout = timeout
        self.mirror = Mirror()
        self.epoch = -1
        self.seq = 0  # the last state message applied
        self.resyncs = 0
        self.ended = False
        self.clock = 0.0  # the server's simulated time, from messages and heartbeats
        self.birth: dict[str, Any] | None = None
        self.kpis: dict[str, Any] | None = None  # the latest kpi/ sample
        self.listeners: list[Listener] = []
        # Told, in stream order, when a lock-step server's clock reaches a barrier.
        self.barrier_listeners: list[BarrierListener] = []
        self.dropped_as_late: list[float] = []  # barriers at which this agent was dropped
        self.name: str | None = None  # the name this client registered under
        self._replies: dict[str, Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._kept: list[list[bytes]] = []

    # -- syncing --------------------------------------------------------------------------

    def sync(self) -> None:
        """Build the mirror from a snapshot (the Clone pattern); later updates follow it."""
        deadline = time.monotonic() + self.timeout
        while not self._kept and not self.ended:  # the subscription is live once a message came
            if time.monotonic() > deadline:
                raise SyncError(
                    "nothing streamed: is the server running at that address "
                    "(and, with keys, does it list this client's key)?"
                )
            if self.sub.poll(50):
                self._kept.append(self.sub.recv_multipart())
        self.ctl.send(json.dumps({"type": "snapshot"}).encode())
        chunks: list[dict[str, Any]] = []
        poller = zmq.Poller()
        poller.register(self.ctl, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        while not chunks or len(chunks) < chunks[0]["of"]:
            remaining = deadline - time.monotonic()
            ready = dict(poller.poll(int(remaining * 1000))) if remaining > 0 else {}
            if not ready:
                raise SyncError("no snapshot from the server in time")
            if self.sub in ready:  # kept for later; a run that has ended has no snapshot
                self._kept.append(self.sub.recv_multipart())
                if self._kept[-1][0] == b"death/":
                    self.ended = True  # what came before it still counts (a birth has all)
                    self.poll(0)
                    return
            if self.ctl in ready:
                answer = json.loads(self.ctl.recv())
                if answer.get("type") == "snapshot":
                    chunks.append(answer)
                else:
                    self._reply(answer)
        self.mirror = Mirror()
        for chunk in chunks:
            for record in chunk["records"]:
                self.mirror.apply(change_of(record))
        self.epoch = chunks[0]["epoch"]
        self.seq = chunks[0]["seq"]["state"]

    # -- receiving ------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0, budget: float = POLL_BUDGET) -> int:
        """Receive what has arrived (waiting up to ``timeout`` s for the first message);
        apply it to the mirror and tell the listeners, for at most ``budget`` seconds (a
        fast run streams faster than a client applies: the rest waits for the next call,
        and the caller gets control back). Returns the messages handled."""
        handled = 0
        if not self._kept and self.sub.poll(int(timeout * 1000)):
            self._kept.append(self.sub.recv_multipart())
        stop = time.monotonic() + budget
        while (self._kept or self.sub.poll(0)) and (handled == 0 or time.monotonic() < stop):
            frames = self._kept.pop(0) if self._kept else self.sub.recv_multipart()
            self._handle(frames)
            handled += 1
        while self.ctl.poll(0):
            self._reply(json.loads(self.ctl.recv()))
        return handled

    def changes(self, until: float = 60.0) -> Iterator[Change]:
        """Every change as it arrives, until the run ends (death) or ``until`` seconds."""
        queue: list[Change] = []
        self.listeners.append(queue.append)
        try:
            end = time.monotonic() + until
            while not self.ended and time.monotonic() < end:
                self.poll(0.1)
                while queue:
                    yield queue.pop(0)
        finally:
            self.listeners.remove(queue.append)

    def _handle(self, frames: list[bytes]) -> None:
        topic, head, body = parse(frames)
        channel = topic.split("/", 1)[0]
        if head.get("sim_t") is not None:
            self.clock = max(self.clock, float(head["sim_t"]))
        if channel == "hb" and isinstance(body.get("clock"), int | float):
            self.clock = max(self.clock, float(body["clock"]))
        if channel == "death":
            self.ended = True
        elif channel == "birth":
            self._born(head, body)
        elif channel == "kpi":
            self.kpis = body
        elif topic == "event/lockstep/":
            self._lockstep(body)
        elif channel == "event" and topic != "event/commands/":
            self._tell(change_of(body))
        elif channel == "state":
            self._state(head, topic, body)

    def _born(self, head: dict[str, Any], body: dict[str, Any]) -> None:
        """A birth carries the whole state and the seq it stands for: a sync point."""
        self.birth = body
        if isinstance(body.get("snapshot"), list) and isinstance(body.get("seq"), dict):
            self.mirror = Mirror()
            for record in body["snapshot"]:
                self.mirror.apply(change_of(record))
            self.epoch = head["epoch"]
            self.seq = body["seq"]["state"]

    def _state(self, head: dict[str, Any], topic: str, body: Any) -> None:
        if head["epoch"] != self.epoch or head["seq"] > self.seq + 1:
            if self.ended:
                return  # the run is over: nothing to resync with
            self.resyncs += 1  # a new epoch, or a gap: messages were missed
            self.sync()
            return
        if head["seq"] <= self.seq:
            return  # already in the snapshot
        self.seq = head["seq"]
        for change in changes_of(body) if topic == BATCH_TOPIC else [change_of(body)]:
            self.mirror.apply(change)
            self._tell(change)

    def _lockstep(self, body: dict[str, Any]) -> None:
        t = float(body["t"])
        if self.name is not None and self.name in body.get("late", ()):
            self.dropped_as_late.append(t)
        elif self.name is not None and self.name in body.get("agents", ()):
            for listener in self.barrier_listeners:
                listener(t)

    def _tell(self, change: Change) -> None:
        for listener in self.listeners:
            listener(change)

    # -- commands -------------------------------------------------------------------------

    def command(
        self, action: str, target: str, cmd_id: str | None = None, **params: Any
    ) -> Future[dict[str, Any]]:
        """Send a command; the future's result is the server's reply (``ok``, ``at`` or
        ``code``, ``reasons``) once :meth:`poll` receives it."""
        cmd_id = cmd_id or f"c{next(self._ids)}-{id(self):x}"
        future: Future[dict[str, Any]] = Future()
        self._replies[cmd_id] = future
        command = {"cmd_id": cmd_id, "action": action, "target": target, "params": params}
        self.ctl.send(json.dumps({"type": "command", "command": command}).encode())
        return future

    # -- lock-step ------------------------------------------------------------------------

    def register(self, name: str) -> dict[str, Any]:
        """Register as an agent: a lock-step server then waits for :meth:`ready` at each
        barrier. Returns the answer (``lockstep`` is the server's interval, or None)."""
        self.ctl.send(json.dumps({"type": "register", "name": name}).encode())
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.ctl.poll(int(remaining * 1000)):
                raise SyncError("no answer from the server to the registration in time")
            answer = json.loads(self.ctl.recv())
            if answer.get("type") == "registered":
                self.name = name
                return dict(answer)
            if answer.get("type") == "error":
                raise SyncError("registration refused: " + "; ".join(answer.get("reasons", [])))
            self._reply(answer)

    def ready(self, t: float) -> None:
        """Tell a lock-step server that this agent is done with the barrier at ``t``."""
        self.ctl.send(json.dumps({"type": "ready", "t": t}).encode())

    def _reply(self, answer: dict[str, Any]) -> None:
        future = self._replies.pop(str(answer.get("cmd_id")), None)
        if future is not None and not future.done():
            future.set_result(answer)

    def close(self) -> None:
        self.ctx.destroy(linger=0)

    def __enter__(self) -> TwinClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
