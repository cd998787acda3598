"""A minimal live client written from docs/protocol.md alone: raw pyzmq and JSON, no import
of the project. Usage: minimal_client.py STREAM CONTROL. It subscribes, syncs from a
snapshot, keeps a mirror, has one command acknowledged, and prints a JSON summary at death.
"""

import json
import sys
import time

import zmq

stream, control = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.connect(stream)
ctl = ctx.socket(zmq.DEALER)
ctl.connect(control)
deadline = time.monotonic() + 60

# Subscribe first and keep what arrives (the Clone pattern).
kept = []
while not kept and time.monotonic() < deadline:
    if sub.poll(100):
        kept.append(sub.recv_multipart())

levels, parts = {}, {}


def apply(record):
    kind, scope = record["kind"], record["scope"]
    if kind in ("state", "level"):
        levels[scope + "/" + kind] = record["value"]
    elif kind in ("create", "arrive", "start", "move", "part"):
        parts[record["part"]] = scope
    elif kind in ("finish", "scrap"):
        parts.pop(record["part"], None)


ctl.send(json.dumps({"type": "snapshot"}).encode())
chunks = []
while (not chunks or len(chunks) < chunks[0]["of"]) and time.monotonic() < deadline:
    if ctl.poll(100):
        chunks.append(json.loads(ctl.recv()))
since = chunks[0]["seq"]["state"]
for chunk in chunks:
    for record in chunk["records"]:
        apply(record)

command = {"cmd_id": "hello-1", "action": "hold", "target": "M1"}
ctl.send(json.dumps({"type": "command", "command": command}).encode())
reply = None
applied_after = 0
batches = 0
FIELDS = ("t", "scope", "kind", "part", "value")  # a batch's arrays, in this order
gaps = 0
last = {}
done = False
while not done and time.monotonic() < deadline:
    frames = kept.pop(0) if kept else (sub.recv_multipart() if sub.poll(100) else None)
    if reply is None and ctl.poll(0):
        reply = json.loads(ctl.recv())
        if reply.get("ok"):
            release = {"cmd_id": "hello-2", "action": "release", "target": "M1"}
            ctl.send(json.dumps({"type": "command", "command": release}).encode())
    if frames is None:
        continue
    topic, header, body = frames[0].decode(), json.loads(frames[1]), json.loads(frames[2])
    channel = topic.split("/")[0]
    if channel in last and header["seq"] != last[channel] + 1:
        gaps += 1
    last[channel] = header["seq"]
    if channel == "state" and header["seq"] > since:
        if topic == "state/*/":  # a batch: its changes in their order
            batches += 1
            records = [dict(zip(FIELDS, change, strict=True)) for change in body]
        else:
            records = [body]
        for record in records:
            apply(record)
        applied_after += len(records)
    done = channel == "death"

print(
    json.dumps(
        {
            "reply": reply,
            "machines": sorted(k for k in levels if k.endswith("/state")),
            "parts": len(parts),
            "updates": applied_after,
            "batches": batches,
            "gaps": gaps,
            "death": done,
        }
    )
)
