"""The live bridge's cost: a fast served run with one subscriber against the same
replication with no bridge, messages per second on loopback, the time a late joiner takes
to sync, and the command round trip at real-time speed.

Run: ``.venv/bin/python bench/bridge_bench.py`` (``--quick`` for a shorter line).
Target: a ``--fast`` run with one subscriber at most 25% slower than no bridge.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from bridges.client import TwinClient
from bridges.server import Server, Settings
from bridges.wire import BATCH_MAX
from scenarios.catalog import load_scenario
from scenarios.experiment import run_replication
from scenarios.overrides import override

LOOPBACK = "tcp://127.0.0.1:*"


def serve_in_thread(model: Any, settings: Settings) -> tuple[threading.Thread, dict[str, Any]]:
    """A server in a thread. ``seconds`` and ``cpu`` (the thread's CPU time) count making
    the server (which builds the line, as run_replication does) and its run, not the wait
    for its subscribers."""
    state: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        server = Server(model, settings)
        state["server"] = server
        ready.set()
        waited, waited_cpu = time.perf_counter(), time.thread_time()
        server._wait_for_subscribers()
        start += time.perf_counter() - waited
        cpu += time.thread_time() - waited_cpu
        state["kpis"] = server.run()
        state["seconds"] = time.perf_counter() - start
        state["cpu"] = time.thread_time() - cpu

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(30)
    return thread, state


# The subscriber runs in its own process, as a viewer or an agent would: in the server's
# process it would compete with the simulation for the interpreter lock. It decodes what it
# counts, as a viewer must: messages, and changes (a batch's, or one), with orjson, as
# bridges.client does (the standard library's json takes five times as long, and on two
# cores a busier subscriber slows the server beside it). It is started once and serves run
# after run (an address on each line of its input; it answers with its counts), as a
# viewer that is already up: no process starts just before a timed run.
SUBSCRIBER = """
import orjson, sys, zmq
context = zmq.Context()
for address in sys.stdin:
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect(address.strip())
    messages = changes = 0
    while sub.poll(30_000):
        topic, _, body = sub.recv_multipart()
        messages += 1
        if topic == b"state/*/":
            changes += len(orjson.loads(body))
        elif topic.startswith((b"state/", b"event/")):
            changes += 1
        elif topic == b"death/":
            break
    sub.close(linger=0)
    print(messages, changes, flush=True)
"""


@dataclass
class Served:
    seconds: float
    cpu: float
    messages: int
    changes: int


class Subscriber:
    """The subscriber's process, for as many runs as asked."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self, address: str) -> tuple[int, int]:
        """Read everything a run at ``address`` streams; its messages and changes."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(address + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().split()
        if len(answer) != 2:
            raise RuntimeError("the subscriber stopped")
        return int(answer[0]), int(answer[1])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def fast_with_subscriber(model: Any, settings: Settings, subscriber: Subscriber) -> Served:
    """A fast served run with one subscriber (another process) reading everything."""
    thread, state = serve_in_thread(model, settings)
    messages, changes = subscriber.read(state["server"].pub_address)
    thread.join(60)
    return Served(float(state["seconds"]), float(state["cpu"]), messages, changes)


def drain(client: TwinClient, seconds: float = 120.0) -> None:
    end = time.monotonic() + seconds
    while not client.ended and time.monotonic() < end:
        client.poll(0.1)


def late_sync(model: Any, speed: float | None) -> float:
    """Seconds for a client that joins mid-run to sync from a snapshot."""
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=speed)
    thread, state = serve_in_thread(model, settings)
    server = state["server"]
    with TwinClient(server.pub_address, server.ctl_address) as first:
        if not first.sub.poll(10_000):  # the run has begun
            raise RuntimeError("the server streamed nothing")
        if speed:  # reading a second of it: a client that does not loses messages
            under_way = time.monotonic() + 1.0
            while time.monotonic() < under_way:
                first.poll(0.01)
        else:  # as fast as possible a client that reads may not catch up before the end
            time.sleep(0.05)  # (its queue holds the whole run: no loss)
        with TwinClient(server.pub_address, server.ctl_address) as late:
            start = time.perf_counter()
            late.sync()
            seconds = time.perf_counter() - start
            if late.ended:
                raise RuntimeError("the run ended before the late joiner synced")
        drain(first)
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
            end = time.monotonic() + 10.0
            while not future.done() and time.monotonic() < end:
                client.poll(0.001)
            times.append((time.perf_counter() - start) * 1000)
        client.command("speed", "clock", factor=1000.0)
        drain(client)
    thread.join(60)
    return times


# One case of the instruction count, run under valgrind: ``imports`` only loads what the
# others load; ``plain`` runs the replication with no bridge; ``served`` serves it as fast
# as possible to one subscriber (another process, not counted).
CASE = """
import subprocess, sys
from bridges.server import Server, Settings, _command_schema
from scenarios.catalog import load_scenario
from scenarios.experiment import run_replication
from scenarios.overrides import override
case, days, subscriber = sys.argv[1], float(sys.argv[2]), sys.argv[3]
model = override(load_scenario("demo"), {"horizon": days * 86400.0})
_command_schema()  # built once in a process, as in the bench's runs: not the bridge's cost
if case == "plain":
    run_replication(model, 0)
elif case == "served":
    loopback = "tcp://127.0.0.1:*"
    server = Server(model, Settings(pub=loopback, ctl=loopback, wait=1))
    reader = subprocess.Popen(
        [sys.executable, "-c", subscriber], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True,
    )
    reader.stdin.write(server.pub_address + "\\n")
    reader.stdin.flush()
    server.run()
    reader.stdin.close()
    reader.wait()
"""


def instructions(days: float) -> dict[str, int]:
    """Instructions (valgrind's cachegrind) of each case: they do not move with the
    machine's load, as wall times do."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian: apt-get install valgrind)")
    # One BLAS thread (it spins while valgrind runs it), and the same string hashes each run.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    runs = {
        case: subprocess.Popen(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                sys.executable,
                "-c",
                CASE,
                case,
                str(days),
                SUBSCRIBER,
            ],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        for case in ("imports", "plain", "served")
    }
    counts = {}
    for case, run in runs.items():
        _, err = run.communicate(timeout=1800)
        found = re.search(r"I\s+refs:\s+([\d,]+)", err)
        if run.returncode != 0 or found is None:
            raise SystemExit(f"valgrind on case {case} failed:\n{err[-2000:]}")
        counts[case] = int(found.group(1).replace(",", ""))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one day of the demo, not four")
    parser.add_argument("--repeats", type=int, default=21, help="runs of each (medians)")
    parser.add_argument("--batch-max", type=int, default=BATCH_MAX, help="changes a batch")
    parser.add_argument("--one-by-one", action="store_true", help="one message a change")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind (plain and served, one subscriber) instead",
    )
    args = parser.parse_args()
    days = 1 if args.quick else 4
    if args.instructions:
        counts = instructions(days)
        plain = counts["plain"] - counts["imports"]
        served = counts["served"] - counts["imports"]
        print(f"demo line, {days} d, replication 0: M instructions, imports subtracted")
        print(f"no bridge:                    {plain / 1e6:7,.0f}")
        print(
            f"served fast, one subscriber:  {served / 1e6:7,.0f}  ({served / plain:.3f}x; "
            "the server's process, its ZeroMQ thread included)"
        )
        return
    demo = load_scenario("demo")
    model = override(demo, {"horizon": days * 86400.0})
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, batch_max=args.batch_max)
    settings.batch = False if args.one_by_one else None
    plain, plain_cpu, served = [], [], []

    def run_plain() -> None:
        start, cpu = time.perf_counter(), time.thread_time()
        run_replication(model, 0)
        plain.append(time.perf_counter() - start)
        plain_cpu.append(time.thread_time() - cpu)

    subscriber = Subscriber()
    try:
        for i in range(args.repeats):  # interleaved: a load that comes and goes hits both
            if i % 2:  # served first in every other pair: a drift favours neither
                served.append(fast_with_subscriber(model, settings, subscriber))
                run_plain()
            else:
                run_plain()
                served.append(fast_with_subscriber(model, settings, subscriber))
    finally:
        subscriber.close()
    wall = statistics.median(s.seconds for s in served)
    # Each served run against the plain run beside it: the machine's speed drifts less
    # between the two than over the whole bench.
    ratio = statistics.median(s.seconds / p for s, p in zip(served, plain, strict=True))
    best = min(s.seconds for s in served) / min(plain)
    cpu_ratio = statistics.median(s.cpu / p for s, p in zip(served, plain_cpu, strict=True))
    last = served[-1]
    mode = "one message a change" if args.one_by_one else f"batches of <= {args.batch_max}"
    print(f"demo line, {model.horizon / 86400:g} d, replication 0, medians of {args.repeats} pairs")
    print(f"no bridge:                    {statistics.median(plain):7.3f} s")
    print(
        f"served fast, one subscriber:  {wall:7.3f} s  ({ratio:.2f}x, best to best {best:.2f}x, "
        f"thread CPU {cpu_ratio:.2f}x; target <= 1.25x) [{mode}]"
    )
    rates = f"{last.messages / wall:,.0f}/s), {last.changes:,} changes"
    print(
        f"stream:                       {last.messages:,} messages ({rates} "
        f"({last.changes / wall:,.0f}/s)"
    )
    paced, fast = late_sync(model, model.horizon / 4), late_sync(model, None)
    print(f"late joiner sync:             {paced * 1000:7.1f} ms paced, {fast * 1000:.1f} ms fast")
    trips = sorted(round_trips(demo, 40))
    p95 = trips[int(0.95 * (len(trips) - 1))]
    print(f"command round trip at speed 1: p50 {statistics.median(trips):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
