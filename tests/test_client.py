"""TwinClient on a live server: sync, mirror, resync after a gap, commands with futures."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import simpy
import zmq
from live import DEADLINE, LOOPBACK, Served

from bridges.client import SyncError, TwinClient
from bridges.server import Settings
from bridges.wire import frames
from scenarios.builder import build
from scenarios.schema import Scenario
from twin.changes import Changes, Mirror

LINE = """\
name: mirrored
seed: 13
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
    process_time: {dist: exponential, mean: 35s}
"""


def final_mirror(model: Scenario) -> Mirror:
    """The mirror of every change of the batch run."""
    mirror = Mirror()
    changes = Changes()
    changes.subscribe(mirror)
    env = simpy.Environment()
    build(env, model, 0, changes)
    env.run(until=model.horizon)
    return mirror


def drain(*clients: TwinClient) -> None:
    """Poll the clients in turn, as a program serving several would, until the run ends."""
    end = time.monotonic() + DEADLINE
    while not all(c.ended for c in clients) and time.monotonic() < end:
        for client in clients:
            client.poll(0.02)
    assert all(c.ended for c in clients), "the run did not end in time"


@pytest.mark.parametrize("batch", [None, True], ids=["one-by-one", "batched"])
def test_early_and_late_clients_and_one_with_a_gap_mirror_the_same_line(
    scenario: Callable[[str], Scenario], monkeypatch: pytest.MonkeyPatch, batch: bool | None
) -> None:
    """Three clients: from the start, joining late, and one that loses a state message (a
    change, or a batch of them) and resyncs by itself; all end with the batch run's final
    state."""
    model = scenario(LINE)
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=2, speed=900.0, batch=batch)
    served = Served(model, settings)
    with (
        TwinClient(served.pub, served.ctl) as early,
        TwinClient(served.pub, served.ctl) as gappy,
    ):
        early.sync()
        gappy.sync()
        handle = gappy._handle
        seen = 0

        def lose_the_fortieth(frames: list[bytes]) -> None:
            nonlocal seen
            if frames[0].startswith(b"state/"):
                seen += 1
                if seen == 40:
                    return  # as if the network had dropped it
            handle(frames)

        monkeypatch.setattr(gappy, "_handle", lose_the_fortieth)
        drain_until = time.monotonic() + 0.8
        while time.monotonic() < drain_until:
            early.poll(0.02)
            gappy.poll(0.02)
        with TwinClient(served.pub, served.ctl) as late:
            late.sync()
            assert late.seq > 0
            drain(early, gappy, late)
            expected = final_mirror(model)
            assert early.mirror == expected
            assert late.mirror == expected
            assert gappy.mirror == expected
            assert (early.resyncs, gappy.resyncs) == (0, 1)
    served.join()


def test_commands_resolve_their_futures(scenario: Callable[[str], Scenario]) -> None:
    """A command's future gets the server's reply: applied with its time, or refused."""
    model = scenario(LINE)
    served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=600.0))
    with TwinClient(served.pub, served.ctl) as client:
        client.sync()
        held = client.command("hold", "M2")
        wrong = client.command("hold", "M7")
        end = time.monotonic() + DEADLINE
        while not (held.done() and wrong.done()) and time.monotonic() < end:
            client.poll(0.05)
        assert held.result(0)["ok"] is True and held.result(0)["at"] >= 0.0
        assert wrong.result(0)["code"] == "unknown_target"
        drain(client)
        machine = client.mirror.levels["M2.0", "state"]
        assert machine == "held"  # held to the end: it never took another part
    served.join()


def test_no_server_is_a_clear_error() -> None:
    """Syncing with nobody there fails in bounded time with a message saying so."""
    with (
        TwinClient("tcp://127.0.0.1:9", "tcp://127.0.0.1:9", timeout=0.5) as client,
        pytest.raises(SyncError, match="nothing streamed"),
    ):
        client.sync()


def test_a_poll_hands_control_back_after_its_budget() -> None:
    """A fast run streams faster than a client applies: one poll handles what it can in its
    budget and returns (a dashboard redraws, an agent decides), the next goes on."""
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    client = TwinClient(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}")
    try:
        beats = 300
        end = time.monotonic() + DEADLINE
        while client.poll(0.01) == 0 and time.monotonic() < end:  # till subscribed
            pub.send_multipart(frames("hb", None, {}, 0, 0, 0.0, "json"))
        for seq in range(1, beats + 1):
            pub.send_multipart(frames("hb", None, {"clock": float(seq)}, 0, seq, 0.0, "json"))
        while client.clock == 0.0 and time.monotonic() < end:
            client.poll(0.05, budget=0.0)  # the first beat is in, the rest waits
        assert client.clock == 1.0
        assert client.poll(DEADLINE, budget=0.0) == 1 and client.clock == 2.0
        while client.clock < beats and time.monotonic() < end:
            client.poll(0.05)
        assert client.clock == beats
    finally:
        client.close()
        pub.close(linger=0)
        ctx.term()
