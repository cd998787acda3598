"""The wire format of the live bridge (docs/protocol.md is its specification).

Every stream message has three frames ``[topic, header, body]``: the topic is a UTF-8 path
ending in ``/`` whose first segment is the channel (``birth/``, ``state/TURN.0/``,
``event/TURN.0/``, ``kpi/``, ``hb/``, ``death/``); the header is a JSON object with ``epoch``,
``seq`` (per channel), ``sim_t``, ``wall_t`` and ``codec``; the body is JSON, or msgpack when
the header says so. Control messages (DEALER to ROUTER) are single JSON frames.

A server that batches sends its state changes as batches: topic ``state/*/`` (no scope is
``*``), one seq per batch, and as body the changes in their order, each an array
``[t, scope, kind, part, value]``.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Literal

import msgpack
import orjson

from twin.changes import STATE_KINDS, Change

Codec = Literal["json", "msgpack"]
CHANNELS = ("birth", "state", "event", "kpi", "hb", "death")
# Changes that a mirror needs (STATE_KINDS) go on the state channel; the others are events.
MAX_REQUEST = 64 * 1024  # bytes of one control message
BATCH = "*"  # the entity of a batch's topic, state/*/
BATCH_TOPIC = "state/*/"
BATCH_MAX = 512  # changes in one batch message


@functools.cache
def topic(channel: str, entity: str | None = None) -> bytes:
    """``state/TURN.0/`` for an entity's channel, ``hb/`` for a line-wide one."""
    return (f"{channel}/{entity}/" if entity else f"{channel}/").encode()


def channel_of(change: Change) -> str:
    return "state" if change.kind in STATE_KINDS else "event"


def change_body(change: Change) -> dict[str, Any]:
    time_, scope, kind, part, value = change
    return {"t": time_, "scope": scope, "kind": kind, "part": part, "value": value}


def change_of(body: dict[str, Any]) -> Change:
    return Change(
        float(body["t"]), str(body["scope"]), str(body["kind"]), int(body["part"]), body["value"]
    )


def changes_of(rows: list[list[Any]]) -> list[Change]:
    """The changes of a batch's body, in their order."""
    return [
        Change(float(t), str(scope), str(kind), int(part), value)
        for t, scope, kind, part, value in rows
    ]


def encode_body(body: Any, codec: Codec) -> bytes:
    if codec == "msgpack":
        packed: bytes = msgpack.packb(body, use_bin_type=True)
        return packed
    return orjson.dumps(body)  # compact JSON; a non-finite number would be written as null


def decode_body(data: bytes, codec: str) -> Any:
    if codec == "msgpack":
        return msgpack.unpackb(data, raw=False)
    return orjson.loads(data)


def header(epoch: int, seq: int, sim_t: float, codec: Codec) -> bytes:
    head = {
        "epoch": epoch,
        "seq": seq,
        "sim_t": sim_t if math.isfinite(sim_t) else None,
        "wall_t": time.time(),
        "codec": codec,
    }
    return orjson.dumps(head)


def frames(
    channel: str, entity: str | None, body: Any, epoch: int, seq: int, sim_t: float, codec: Codec
) -> list[bytes]:
    """The three frames of one stream message."""
    return [topic(channel, entity), header(epoch, seq, sim_t, codec), encode_body(body, codec)]


def parse(parts: list[bytes]) -> tuple[str, dict[str, Any], Any]:
    """``(topic, header, body)`` of a received stream message (for clients and tests)."""
    if len(parts) != 3:
        raise ValueError(f"a stream message has 3 frames, got {len(parts)}")
    head = orjson.loads(parts[1])
    return parts[0].decode(), head, decode_body(parts[2], head["codec"])
