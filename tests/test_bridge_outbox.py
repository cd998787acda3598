"""The server's outbox: state changes wait for a flush (sent at most ``limit`` to a message),
events go out after every change before them."""

from __future__ import annotations

import pytest

from bridges.outbox import Outbox
from twin.changes import Change, Row


def sent_by(limit: int) -> tuple[Outbox, list[list[Row] | Change]]:
    sent: list[list[Row] | Change] = []
    return Outbox(sent.append, sent.append, limit), sent


def test_events_come_after_the_changes_before_them() -> None:
    """Two state changes, a failure, one more: the first two as one batch, then the event;
    the last waits for a flush."""
    box, sent = sent_by(512)
    box.record((1.0, "M1.0", "state", -1, "busy"))
    box.record((1.0, "M1.buffer", "level", -1, 2))
    box.event((2.5, "M1.0", "fail", -1, ""))
    box.record((3.0, "M1.0", "state", -1, "down"))
    assert sent == [
        [(1.0, "M1.0", "state", -1, "busy"), (1.0, "M1.buffer", "level", -1, 2)],
        Change(2.5, "M1.0", "fail", -1, ""),
    ]
    box.flush()
    box.flush()  # nothing waits: nothing is sent
    assert sent[2:] == [[(3.0, "M1.0", "state", -1, "down")]]


def test_a_batch_holds_at_most_its_limit() -> None:
    """Ten changes with a limit of four wait for the flush, which sends them as 4 + 4 + 2 in
    their order; a limit of one sends them one to a message."""
    box, sent = sent_by(4)
    rows: list[Row] = [(float(part), "line", "create", part, "A") for part in range(10)]
    for row in rows:
        box.record(row)
    assert sent == []  # nothing goes out by itself: the server flushes when it polls
    box.flush()
    assert [len(batch) for batch in sent if isinstance(batch, list)] == [4, 4, 2]
    assert [row for batch in sent for row in batch] == rows
    single, one_by_one = sent_by(1)
    single.record((0.0, "M2", "arrive", 7, "B"))
    single.record((0.5, "M2", "arrive", 8, "B"))
    single.flush()
    assert one_by_one == [[(0.0, "M2", "arrive", 7, "B")], [(0.5, "M2", "arrive", 8, "B")]]


def test_an_outbox_has_no_other_listeners() -> None:
    """It sends to its server only: nothing else can subscribe to it."""
    box, _ = sent_by(8)
    assert not hasattr(box, "subscribe")
    with pytest.raises(ValueError, match="at least one change"):
        Outbox(print, print, 0)
