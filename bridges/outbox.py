"""The server's side of the change stream: where the line's changes wait to be sent.

A live run's models emit into an :class:`Outbox` (a :class:`~twin.changes.ChangeSink`): a
change of state (``record``) is appended to the outbox itself, a list, with one call in C
and no record object; the server sends the rows with :meth:`Outbox.flush`: one batch
message (``state/*/``, docs/protocol.md) of at most ``limit`` changes when it batches, else
one message per change. The server flushes whenever it serves its sockets or sends
anything else (so what waits is bounded by the changes of the events between two polls);
an event (``event``) is handed on at once, after the changes emitted before it, so the
stream keeps the order in which the changes happened, across entities and channels.
"""

from __future__ import annotations

from collections.abc import Callable

from twin.changes import Change, ChangeSink, Row


class Outbox(list[Row], ChangeSink):
    """Collects state changes (it is the list of those waiting) for ``send_rows``, at most
    ``limit`` at a time, on a flush; hands each event to ``send_event`` once the changes
    before it are sent."""

    __slots__ = ("limit", "live", "send_event", "send_rows")

    # A change of state costs the models one call in C: the row goes straight to the list.
    record = list.append

    def __init__(
        self,
        send_rows: Callable[[list[Row]], None],
        send_event: Callable[[Change], None],
        limit: int,
    ) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError(f"an outbox holds at least one change, got limit {limit}")
        self.send_rows = send_rows
        self.send_event = send_event
        self.limit = limit
        # Not live until its server says so, once the line is built: the build's own
        # changes are in the birth's snapshot.
        self.live = False

    def event(self, row: Row) -> None:
        self.flush()
        self.send_event(Change._make(row))

    def flush(self) -> None:
        """Send the changes that wait (none: nothing is sent), ``limit`` to a message."""
        if self:
            rows = self.copy()
            self.clear()
            limit = self.limit
            if len(rows) <= limit:
                self.send_rows(rows)
            else:
                for i in range(0, len(rows), limit):
                    self.send_rows(rows[i : i + limit])
