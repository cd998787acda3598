"""The change stream: every change inside a replication as a small immutable record.

Models emit a :class:`Change` for each thing that happens (a machine changes state, a part
is created, arrives at a station, starts on a machine, moves, finishes or is scrapped, a
conveyor or a pool fills, a machine fails or is repaired, a command is applied, ...) to one
:class:`Changes` fan-out per replication. Whoever wants them subscribes: the Parquet trace
writer, the live bridge, a viewer, a test. Models never learn who listens, and components
added later emit through the same door with their own scopes.

A scope is a dotted entity name: ``TURN.0`` (machine 0 of station TURN), ``TURN`` (the
station), ``TURN.buffer`` (its input buffer, whose level :class:`Mirror` counts), ``line``.
With no subscriber, emitting is skipped after one attribute test (``changes.live``), so an
unobserved run pays nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

Value = str | int | float


class Change(NamedTuple):
    """One change of one entity at one simulated time. ``part`` is -1 when none is involved."""

    time: float
    scope: str
    kind: str
    part: int
    value: Value


Row = tuple[float, str, str, int, Value]
"""A change as an emitter hands it over: ``(time, scope, kind, part, value)``."""

Subscriber = Callable[[Change], None]


class ChangeSink:
    """Where a replication's models hand their changes.

    Emitters test ``live`` before they build a row, and hand it to one of two doors:
    ``if changes.live: changes.record((now, scope, "state", -1, "busy"))``.

    - ``record(row)``: a change of state, of a kind in :data:`STATE_KINDS` (a level, a
      machine's state, a part's whereabouts or its departure): what a mirror keeps.
    - ``event(row)``: anything else that happens (a failure, a repair, a command applied,
      a reading, a rejection, ...).

    :class:`Changes` fans them out to subscribers; the live server's outbox
    (bridges/outbox.py) keeps its state rows in a list, ``record`` being the list's append.
    """

    __slots__ = ()

    live: bool
    record: Callable[[Row], None]
    event: Callable[[Row], None]


class Changes(ChangeSink):
    """The fan-out of one replication's changes to any number of subscribers: each row,
    state or event, reaches every subscriber as a :class:`Change`, in the order of the
    calls."""

    __slots__ = ("_subscribers", "live")

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self.live = False

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Deliver every later change to ``subscriber``; returns a function that stops it."""
        self._subscribers.append(subscriber)
        self.live = True

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)
            self.live = bool(self._subscribers)

        return unsubscribe

    def record(self, row: Row) -> None:
        self.emit(Change._make(row))

    event = record

    def emit(self, change: Change) -> None:
        """Deliver a record made elsewhere, of any kind."""
        for subscriber in self._subscribers:
            subscriber(change)


# Kinds whose value is the entity's current level or state; a later one replaces an earlier.
LEVELS = frozenset({"state", "level"})
# Kinds that say where a part now is (the scope); "part" is a snapshot's way of saying it.
WHEREABOUTS = frozenset({"create", "arrive", "start", "part", "move"})
# Kinds after which a part is no longer in the system.
DEPARTURES = frozenset({"finish", "scrap"})
# The kinds of a change of state (``Changes.record``); every other kind is an event.
STATE_KINDS = LEVELS | WHEREABOUTS | DEPARTURES


@functools.cache
def buffer_of(scope: str) -> str | None:
    """``TURN.buffer`` for a station's scope ``TURN``; None for any other whereabouts
    (``line``, a machine ``TURN.0``, a move ``TURN>HEAT``).

    A station's input buffer holds the parts whose whereabouts is the station: from their
    ``arrive`` until a machine takes them (``start``). Its level is their count, which
    the stream does not send: whoever keeps a mirror counts it."""
    if scope == "line" or "." in scope or ">" in scope:
        return None
    return f"{scope}.buffer"


class Mirror:
    """The state that a sequence of changes describes, kept by applying them in order.

    ``levels`` maps (scope, kind) to the latest value of a level kind (a machine's state, a
    conveyor's or a pool's level), and to the level of each station buffer that holds parts
    (counted from the parts' whereabouts; a buffer not there is empty); ``parts`` maps each
    part in the system to (where it is, its product). Other kinds (fail, repair, a
    command's outcome, ...) are events: they change no state. A snapshot applied to an
    empty mirror equals the mirror of every change until then.
    """

    def __init__(self) -> None:
        self.time = 0.0
        self.levels: dict[tuple[str, str], Value] = {}
        self.parts: dict[int, tuple[str, str]] = {}

    def apply(self, change: Change) -> None:
        time, scope, kind, part, value = change
        self.time = time
        if kind in LEVELS:
            self.levels[scope, kind] = value
        elif kind in WHEREABOUTS:
            old = self.parts.get(part)
            self.parts[part] = (scope, str(value))
            if old is not None:
                self._count(old[0], -1)
            self._count(scope, 1)
        elif kind in DEPARTURES:
            old = self.parts.pop(part, None)
            if old is not None:
                self._count(old[0], -1)

    def _count(self, scope: str, step: int) -> None:
        buffer = buffer_of(scope)
        if buffer is not None:
            key = (buffer, "level")
            level = int(self.levels.get(key, 0)) + step
            if level:
                self.levels[key] = level
            else:
                del self.levels[key]

    def __call__(self, change: Change) -> None:
        self.apply(change)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mirror):
            return NotImplemented
        return self.levels == other.levels and self.parts == other.parts

    __hash__ = None  # type: ignore[assignment]
