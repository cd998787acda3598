"""The live bridge on real ZeroMQ sockets (127.0.0.1, ports chosen by the system); every
loop is bounded in time and stops by itself."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import simpy
import zmq
from live import DEADLINE, LOOPBACK, Served
from test_gear_line import GEAR

from bridges.client import TwinClient
from bridges.server import Settings
from bridges.wire import BATCH_MAX, BATCH_TOPIC, change_of, changes_of, parse
from scenarios.builder import build
from scenarios.experiment import run_replication, sample
from scenarios.loader import loads
from scenarios.schema import Scenario
from twin.changes import Change, Changes, Mirror

LINE = """\
name: served
seed: 8
horizon: 1h
arrivals:
  interarrival: {dist: exponential, mean: 45s}
stations:
  - id: M1
    servers: 2
    input_buffer: 4
    process_time: {dist: exponential, mean: 70s}
    failures: {mtbf: {dist: exponential, mean: 15min}, mttr: 2min}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 35s, cv: 0.5}
    scrap_rate: 0.05
"""


@contextmanager
def sockets() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        yield ctx
    finally:
        ctx.destroy(linger=0)


def subscriber(ctx: zmq.Context[Any], address: str) -> zmq.Socket[Any]:
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(address)
    return sub


def receive_all(sub: zmq.Socket[Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """Every message until death (or the deadline)."""
    out = []
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if sub.poll(200):
            topic, head, body = parse(sub.recv_multipart())
            out.append((topic, head, body))
            if topic == "death/":
                return out
    pytest.fail("no death message before the deadline")


def batch_changes(model: Scenario) -> list[Change]:
    """The changes of a batch run once its line is built (what the server streams)."""
    env = simpy.Environment()
    changes = Changes()
    seen: list[Change] = []
    build(env, model, 0, changes)
    changes.subscribe(seen.append)
    env.run(until=model.horizon)
    return seen


Message = tuple[str, dict[str, Any], Any]


def state_changes(topic: str, body: Any) -> list[Change]:
    """The changes of a state message: a batch's, or the one of a single change."""
    return changes_of(body) if topic == BATCH_TOPIC else [change_of(body)]


def streamed(messages: list[Message]) -> list[Change]:
    """Every change on the stream in stream order: state messages (single or batches) and
    events; each single change on its entity's topic."""
    out: list[Change] = []
    for topic, _, body in messages:
        channel = topic.split("/")[0]
        if channel not in ("state", "event") or topic in ("event/commands/", "event/lockstep/"):
            continue
        if topic != BATCH_TOPIC:
            assert topic == f"{channel}/{body['scope']}/"
        out.extend(state_changes(topic, body))
    return out


def mirror(messages: list[Message], upto: float = float("inf")) -> Mirror:
    """A client's mirror: the birth's snapshot, then the state updates after its seq (and
    up to state seq ``upto``)."""
    out = Mirror()
    since = 0
    for topic, head, body in messages:
        if topic == "birth/":
            out = Mirror()
            for record in body["snapshot"]:
                out.apply(change_of(record))
            since = body["seq"]["state"]
        elif topic.startswith("state/") and since < head["seq"] <= upto:
            for change in state_changes(topic, body):
                out.apply(change)
    return out


def final_mirror(model: Scenario) -> Mirror:
    """The mirror of every change of the batch run."""
    final = Mirror()
    changes = Changes()
    changes.subscribe(final)
    env = simpy.Environment()
    build(env, model, 0, changes)
    env.run(until=model.horizon)
    return final


@pytest.mark.parametrize(
    "options",
    [{}, {"batch": False}, {"batch_max": 7, "codec": "msgpack"}],
    ids=["fast-batched", "fast-one-by-one", "small-batches-msgpack"],
)
def test_a_subscriber_gets_the_whole_run_in_order(
    scenario: Callable[[str], Scenario], options: dict[str, Any]
) -> None:
    """Birth first, death last, every change of the run on its channel with seq 1, 2, 3, ...
    (as fast as possible: in batches of at most the size bound, unless told not to);
    the served run gives the batch run's KPIs and changes."""
    model = scenario(LINE)
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, **options))
        sub = subscriber(ctx, served.pub)
        messages = receive_all(sub)
    assert served.join() == run_replication(model, 0)
    assert messages[0][0] == "birth/" and messages[-1][0] == "death/"
    birth = messages[0][2]
    batched = options.get("batch", True)
    assert birth["batch"] is batched
    states = [(topic, body) for topic, _, body in messages if topic.startswith("state/")]
    if batched:
        assert {topic for topic, _ in states} == {BATCH_TOPIC}
        sizes = [len(body) for _, body in states]
        assert max(sizes) == options.get("batch_max", max(sizes)) <= BATCH_MAX
        assert len(states) < sum(sizes) / 3  # several changes a message
    else:
        assert BATCH_TOPIC not in {topic for topic, _ in states}
    assert {e["scope"] for e in birth["entities"] if e["kind"] == "machine"} == {
        "M1.0",
        "M1.1",
        "M2.0",
    }
    assert "maintain" in json.dumps(birth["commands"])
    plan = birth["layout"]["stations"]
    assert birth["layout"]["source"] == "automatic" and set(plan) == {"M1", "M2"}
    assert len(plan["M1"]["machines"]) == 2 and plan["M1"]["x"] < plan["M2"]["x"]
    last: dict[str, int] = {}
    for topic, head, _ in messages:
        channel = topic.split("/")[0]
        assert head["seq"] == last.get(channel, 0) + 1, (topic, head)
        assert head["epoch"] == 0 and head["codec"] == options.get("codec", "json")
        last[channel] = head["seq"]
    assert streamed(messages) == batch_changes(model)
    # The birth's snapshot stands for what came before.
    assert mirror(messages) == final_mirror(model)


def test_batches_carry_the_changes_of_a_paced_run_in_their_order(
    scenario: Callable[[str], Scenario],
) -> None:
    """A fast run in batches and a paced run one change per message stream the same
    changes in the same order, failures and repairs (events) in their place among them."""
    model = scenario(LINE.replace("horizon: 1h", "horizon: 3h"))
    runs = []
    with sockets() as ctx:
        for settings in (Settings(speed=20_000.0), Settings()):
            settings.pub = settings.ctl = LOOPBACK
            settings.wait = 1
            served = Served(model, settings)
            runs.append(receive_all(subscriber(ctx, served.pub)))
            assert served.join() == run_replication(model, 0)
    paced, fast = runs
    assert {t for t, _, _ in paced if t.startswith("state/")} != {BATCH_TOPIC}
    assert {t for t, _, _ in fast if t.startswith("state/")} == {BATCH_TOPIC}
    changes = streamed(fast)
    assert changes == streamed(paced)
    assert {"fail", "repair"} <= {c.kind for c in changes}


@pytest.mark.parametrize("batch", [None, True], ids=["one-by-one", "batched"])
def test_a_late_joiner_mirrors_what_an_early_one_sees(
    scenario: Callable[[str], Scenario], batch: bool | None
) -> None:
    """Subscribe, ask for a snapshot, apply later state updates only: the same mirror (in
    real time, one message per change by default, or batches when asked for)."""
    model = scenario(LINE)
    with sockets() as ctx:
        settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=1800.0, batch=batch)
        served = Served(model, settings)
        early_sub = subscriber(ctx, served.pub)
        late = Mirror()
        time.sleep(0.5)  # the run is under way
        late_sub = subscriber(ctx, served.pub)
        # The Clone pattern: the subscription is live (a first message came) before the
        # snapshot is asked for; what arrives meanwhile is kept and filtered by seq.
        assert late_sub.poll(int(DEADLINE * 1000)), "nothing streamed"
        kept = [parse(late_sub.recv_multipart())]
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(served.ctl)
        dealer.send(json.dumps({"type": "snapshot"}).encode())
        chunks: list[dict[str, Any]] = []
        while not chunks or len(chunks) < chunks[0]["of"]:
            assert dealer.poll(int(DEADLINE * 1000)), "no snapshot"
            chunks.append(json.loads(dealer.recv()))
        since = chunks[0]["seq"]["state"]
        assert 0 < chunks[0]["sim_t"] < 3600.0
        for chunk in chunks:
            for record in chunk["records"]:
                late.apply(change_of(record))
        early = mirror(receive_all(early_sub))
        late_messages = kept + receive_all(late_sub)
        for topic, head, body in late_messages:
            if topic.startswith("state/") and head["seq"] > since:
                for change in state_changes(topic, body):
                    late.apply(change)
    served.join()
    assert late == early
    assert sorted(s for s, kind in early.levels if kind == "state") == ["M1.0", "M1.1", "M2.0"]
    # Each buffer's level is the count of parts at its station (a buffer not there is empty).
    waiting = Counter(f"{w}.buffer" for w, _ in early.parts.values() if w in ("M1", "M2"))
    assert {s: v for (s, kind), v in early.levels.items() if kind == "level"} == waiting
    topics = {topic for topic, _, _ in late_messages if topic.startswith("state/")}
    assert (topics == {BATCH_TOPIC}) is bool(batch)


def test_joining_a_fast_run_in_batches_mid_way(
    scenario: Callable[[str], Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As fast as possible, in batches: a client that joins mid-run has, once synced, the
    mirror an early subscriber had at the same state seq; one that loses a batch resyncs
    by itself; at the end all mirror the server's final snapshot."""
    model = scenario(LINE.replace("horizon: 1h", "horizon: 10d"))
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=2))
        early = subscriber(ctx, served.pub)
        early.setsockopt(zmq.RCVHWM, 0)
        with TwinClient(served.pub, served.ctl) as gappy:
            gappy.sync()
            handle, batches = gappy._handle, 0

            def lose_the_fifth_batch(frames: list[bytes]) -> None:
                nonlocal batches
                batches += frames[0] == BATCH_TOPIC.encode()
                if batches != 5 or frames[0] != BATCH_TOPIC.encode():
                    handle(frames)

            monkeypatch.setattr(gappy, "_handle", lose_the_fifth_batch)
            end = time.monotonic() + DEADLINE
            while gappy.resyncs == 0 and not gappy.ended and time.monotonic() < end:
                gappy.poll(0.05)
            assert gappy.resyncs == 1, "the lost batch went unnoticed"
            with TwinClient(served.pub, served.ctl) as late:
                late.sync()
                assert not late.ended, "the run was over before the late joiner came"
                joined = (late.seq, copy.deepcopy(late.mirror))
                # All three read on together: a client that stops reading for long loses
                # what the server still had for it when the run ended.
                messages: list[Message] = []
                while not (late.ended and gappy.ended) and time.monotonic() < end:
                    late.poll(0.02)
                    gappy.poll(0.02)
                messages = receive_all(early)
        served.join()
    assert served.server is not None
    final = Mirror()
    for change in served.server.line.snapshot():
        final.apply(change)
    seq, at_join = joined
    assert seq > 5 and at_join == mirror(messages, upto=seq)
    assert late.mirror == gappy.mirror == mirror(messages) == final == final_mirror(model)
    assert (late.resyncs, gappy.resyncs) == (0, 1)


def test_hostile_control_messages_change_nothing(scenario: Callable[[str], Scenario]) -> None:
    """A thousand malformed requests are refused and counted; the results are untouched."""
    model = scenario(LINE)
    junk: list[list[bytes]] = [
        [b"not json"],
        [b"[1, 2, 3]"],
        [b'{"type": "nonsense"}'],
        [b'{"type": 5}'],
        [b"\xff\xfe\x00"],
        [b"{}", b"{}"],
        [b'{"type": "command", "command": {"action": "fail"}}'],
        [b'{"type": "command", "command": {"cmd_id": "x", "action": "hold", "target": "M9"}}'],
    ]
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=3600.0))
        sub = subscriber(ctx, served.pub)
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.SNDHWM, 10_000)
        dealer.connect(served.ctl)
        for i in range(1000):
            dealer.send_multipart(junk[i % len(junk)])
        messages = receive_all(sub)
        answers = []
        while dealer.poll(100):
            answers.append(json.loads(dealer.recv()))
    assert served.join() == run_replication(model, 0)
    beats = [body for topic, _, body in messages if topic == "hb/"]
    assert beats and beats[-1]["refused"] >= 600
    assert all(a.get("ok") is not True for a in answers)
    codes = {a.get("code") for a in answers}
    assert {"invalid", "unknown_target"} <= codes


def test_a_subscriber_that_dies_does_not_stop_the_run(
    scenario: Callable[[str], Scenario],
) -> None:
    """A subscriber closed mid-stream: the run goes on and ends normally."""
    model = scenario(LINE)
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=7200.0))
        sub = subscriber(ctx, served.pub)
        assert sub.poll(int(DEADLINE * 1000))
        sub.close(linger=0)
    assert served.join() == run_replication(model, 0)


def test_msgpack_bodies_carry_the_same_changes(scenario: Callable[[str], Scenario]) -> None:
    """With codec msgpack the header says so and the bodies decode to the same changes."""
    model = scenario(LINE)
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, codec="msgpack"))
        messages = receive_all(subscriber(ctx, served.pub))
    served.join()
    assert {head["codec"] for _, head, _ in messages} == {"msgpack"}
    assert streamed(messages) == batch_changes(model)


def test_a_reset_starts_a_new_epoch_with_a_new_birth(scenario: Callable[[str], Scenario]) -> None:
    """A trainer's reset: birth again in epoch 1, seq from 1, and the run then goes to the
    horizon with the new seed, giving that seed's results."""
    model = scenario(LINE)
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=3600.0))
        sub = subscriber(ctx, served.pub)
        assert sub.poll(int(DEADLINE * 1000))
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(served.ctl)
        reset = {"cmd_id": "r1", "action": "reset", "target": "clock", "params": {"seed": 99}}
        dealer.send(json.dumps({"type": "command", "command": reset}).encode())
        assert dealer.poll(int(DEADLINE * 1000))
        assert json.loads(dealer.recv())["ok"] is True
        messages = receive_all(sub)
    kpis = served.join()
    births = [(head["epoch"], head["seq"]) for topic, head, _ in messages if topic == "birth/"]
    assert births[-1] == (1, 1)
    after = [head for topic, head, _ in messages if head["epoch"] == 1 and topic != "birth/"]
    assert after and all(head["epoch"] == 1 for head in after)
    reseeded = scenario(LINE.replace("seed: 8", "seed: 99"))
    assert kpis == run_replication(reseeded, 0)


def test_kpi_messages_sample_the_run_at_fixed_simulated_times(
    scenario: Callable[[str], Scenario],
) -> None:
    """kpi/ carries the headline KPIs every `kpi_every` simulated seconds, the last one at
    the horizon; each equals the KPIs of a batch run stopped at that time."""
    model = scenario(LINE)
    with sockets() as ctx:
        settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, kpi_every=600.0)
        served = Served(model, settings)
        messages = receive_all(subscriber(ctx, served.pub))
    assert served.join() == run_replication(model, 0)
    samples = [(head, body) for topic, head, body in messages if topic == "kpi/"]
    assert [body["t"] for _, body in samples] == [600.0 * k for k in range(1, 7)]
    assert all(head["sim_t"] == body["t"] for head, body in samples)
    env = simpy.Environment()
    line = build(env, model, 0)
    env.run(until=1800.0)
    expected = json.loads(json.dumps(sample(line, 1800.0)).replace("NaN", "null"))
    assert samples[2][1] == expected
    assert set(samples[-1][1]["stations"]) == {"M1", "M2"}
    assert samples[-1][1]["good"] > 0


def test_a_stalled_subscriber_loses_messages_counted_in_the_heartbeat(
    scenario: Callable[[str], Scenario],
) -> None:
    """A subscriber that never reads fills its queue: the run neither waits for it nor
    fails, and what it loses is counted in the heartbeats and in death."""
    model = scenario(LINE.replace("horizon: 1h", "horizon: 3d"))
    with sockets() as ctx:
        stalled = ctx.socket(zmq.SUB)
        stalled.setsockopt(zmq.RCVHWM, 10)
        stalled.setsockopt(zmq.RCVBUF, 4096)
        stalled.setsockopt(zmq.SUBSCRIBE, b"")
        # Heartbeats only, for the reader: its own queue never fills.
        reader = ctx.socket(zmq.SUB)
        reader.setsockopt(zmq.SUBSCRIBE, b"hb/")
        reader.setsockopt(zmq.SUBSCRIBE, b"death/")
        settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=3, hwm=200, heartbeat=0.05)
        served = Served(model, settings)
        stalled.connect(served.pub)
        reader.connect(served.pub)
        messages = receive_all(reader)
        kpis = served.join()
    assert kpis == run_replication(model, 0)
    death = messages[-1][2]
    assert death["dropped"] > 0
    beats = [body["dropped"] for topic, _, body in messages if topic == "hb/"]
    assert beats == sorted(beats) and beats[-1] <= death["dropped"]


def test_the_birth_of_a_real_line_names_its_conveyors_pools_and_vehicles() -> None:
    """The gear line's birth lists its conveyor, its operator pools and its AGV fleet as
    entities with their sizes; the run streams their levels, and the birth's snapshot has
    a level for each of them."""
    model = loads(GEAR, "gear.yaml").model_copy(update={"horizon": 8 * 3600.0, "warmup": 0.0})
    with sockets() as ctx:
        served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1))
        sub = subscriber(ctx, served.pub)
        messages = receive_all(sub)
    served.join()
    birth = messages[0][2]
    entities = {e["scope"]: e for e in birth["entities"]}
    assert entities["HOB>SHAVE"]["kind"] == "conveyor" and entities["HOB>SHAVE"]["capacity"] == 20
    assert (entities["operators.loader"]["kind"], entities["operators.loader"]["count"]) == (
        "operators",
        2,
    )
    assert (entities["agv"]["kind"], entities["agv"]["count"]) == ("vehicles", 2)
    levels = {r["scope"] for r in birth["snapshot"] if r["kind"] == "level"}
    assert {"HOB>SHAVE", "operators.setter", "operators.loader", "agv"} <= levels
    streamed_levels = {c.scope for c in streamed(messages) if c.kind == "level"}
    assert {"HOB>SHAVE", "operators.loader"} <= streamed_levels
