"""The live bridge's cost: a fast served run with one subscriber against the same
replication with no bridge, messages per second on loopback, the time a late joiner takes
to sync, and the command round trip at real-time speed.

Run: ``.venv/bin/python bench/bridge_bench.py`` (``--quick`` for a shorter line).
Target: a ``--fast`` run with one subscriber at most 25% slower than no bridge.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from bridges.client import TwinClient
from bridges.server import Server, Settings
from scenarios.catalog import load_scenario
from scenarios.experiment import run_replication
from scenarios.overrides import override

LOOPBACK = "tcp://127.0.0.1:*"


def serve_in_thread(model: Any, settings: Settings) -> tuple[threading.Thread, dict[str, Any]]:
    state: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        server = Server(model, settings)
        state["server"] = server
        ready.set()
        start = time.perf_counter()
        state["kpis"] = server.run()
        state["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    return thread, state


# The subscriber runs in its own process, as a viewer or an agent would: in the server's
# process it would compete with the simulation for the interpreter lock.
SUBSCRIBER = """
import sys, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
sub.setsockopt(zmq.RCVHWM, 0)
sub.connect(sys.argv[1])
count = 0
while sub.poll(30_000):
    count += 1
    if sub.recv_multipart()[0] == b"death/":
        break
print(count)
"""


def fast_with_subscriber(model: Any) -> tuple[float, int]:
    """Seconds of a fast served run with one subscriber (another process) reading
    everything, and the messages it read."""
    thread, state = serve_in_thread(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1))
    reader = subprocess.run(
        [sys.executable, "-c", SUBSCRIBER, state["server"].pub_address],
        capture_output=True,
        text=True,
        timeout=600,
    )
    thread.join(60)
    return float(state["seconds"]), int(reader.stdout)


def late_sync(model: Any) -> float:
    """Seconds for a client that joins mid-run to sync from a snapshot."""
    slow = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=model.horizon / 4)
    thread, state = serve_in_thread(model, slow)
    server = state["server"]
    with TwinClient(server.pub_address, server.ctl_address) as first:
        first.poll(2.0)
        time.sleep(1.0)
        with TwinClient(server.pub_address, server.ctl_address) as late:
            start = time.perf_counter()
            late.sync()
            seconds = time.perf_counter() - start
        while not first.ended:
            first.poll(0.1)
    thread.join(60)
    return seconds


def round_trips(model: Any, n: int) -> list[float]:
    """Command round trips (ms) at speed 1: send, wait for the reply."""
    real = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=1.0)
    thread, state = serve_in_thread(override(model, {"horizon": 3600.0, "warmup": 0}), real)
    server = state["server"]
    times = []
    with TwinClient(server.pub_address, server.ctl_address) as client:
        client.sync()
        stations = list(server.line.stations)
        for i in range(n):
            target = stations[i % len(stations)]
            start = time.perf_counter()
            future = client.command("speed", target, factor=1.0)
            while not future.done():
                client.poll(0.001)
            times.append((time.perf_counter() - start) * 1000)
        client.command("speed", "clock", factor=1000.0)
        while not client.ended:
            client.poll(0.1)
    thread.join(60)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one day of the demo, not four")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (best is kept)")
    args = parser.parse_args()
    demo = load_scenario("demo")
    model = override(demo, {"horizon": (1 if args.quick else 4) * 86400.0})
    plain, served, messages = [], [], 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        run_replication(model, 0)
        plain.append(time.perf_counter() - start)
        seconds, messages = fast_with_subscriber(model)
        served.append(seconds)
    ratio = min(served) / min(plain)
    print(f"demo line, {model.horizon / 86400:g} d, replication 0, best of {args.repeats}")
    print(f"no bridge:                    {min(plain):7.3f} s")
    print(f"served fast, one subscriber:  {min(served):7.3f} s  ({ratio:.2f}x; target <= 1.25x)")
    print(f"messages:                     {messages:,} ({messages / min(served):,.0f}/s)")
    print(f"late joiner sync:             {late_sync(model) * 1000:7.1f} ms")
    trips = sorted(round_trips(demo, 40))
    p95 = trips[int(0.95 * (len(trips) - 1))]
    print(f"command round trip at speed 1: p50 {statistics.median(trips):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
