"""`twin serve` end to end: a real server process, and a client written from
docs/protocol.md alone (raw pyzmq, no project import), on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zmq

CLIENT = Path(__file__).parent / "clients" / "minimal_client.py"
TWIN = [sys.executable, "-c", "from twin.cli import main; main()"]
SERVING = re.compile(r"stream (tcp://\S+), control (tcp://\S+)")


def serve(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start `twin serve` on system-chosen loopback ports; its process and addresses."""
    proc = subprocess.Popen(
        [*TWIN, "serve", *args, "--pub", "tcp://127.0.0.1:*", "--ctl", "tcp://127.0.0.1:*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # bounded: the server prints this line first, or exits
    match = SERVING.search(line)
    if match is None:
        proc.kill()
        raise AssertionError(f"no serving line: {line!r} {proc.communicate(timeout=30)}")
    return proc, match.group(1), match.group(2)


@pytest.mark.parametrize("batch", [[], ["--batch"]], ids=["one-by-one", "batched"])
def test_a_protocol_only_client_syncs_mirrors_and_commands(
    tmp_path: Path, batch: list[str]
) -> None:
    """The minimal client syncs from a snapshot, mirrors the line (from single changes, or
    batches), has a hold acknowledged; the server ends at the horizon, exit 0, and keeps the
    run and its commands."""
    out = tmp_path / "served"
    proc, stream, control = serve(
        "mm1", "--horizon", "20min", "--speed", "600", "--wait", "1", "--out", str(out), *batch
    )
    client = subprocess.run(
        [sys.executable, str(CLIENT), stream, control],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert client.returncode == 0, client.stderr
    summary = json.loads(client.stdout)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert summary["reply"]["ok"] is True and summary["reply"]["cmd_id"] == "hello-1"
    assert summary["machines"] == ["M1.0/state"]
    assert summary["death"] and summary["gaps"] == 0 and summary["updates"] > 100
    assert (summary["batches"] > 0) is bool(batch)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["replications"] == 1 and results["scenario"]["horizon"] == 1200.0
    commands = json.loads((out / "commands.json").read_text(encoding="utf-8"))
    assert [c["action"] for c in commands] == ["hold", "release"]
    assert 0.0 <= commands[0]["at"] <= commands[1]["at"] <= 1200.0
    assert "line KPIs" in stdout
    # Replayed without the network, the commands give the served run's figures to the bit.
    again = tmp_path / "replayed.json"
    replay = ["--commands", str(out / "commands.json"), "--json", str(again)]
    replayed = subprocess.run(
        [*TWIN, "run", "mm1", "--horizon", "20min", *replay],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replayed.returncode == 0, replayed.stderr
    doc = json.loads(again.read_text(encoding="utf-8"))
    assert (doc["line"], doc["stations"]) == (results["line"], results["stations"])
    held = doc["stations"]["M1"]["states"]["held"]["mean"]
    assert held == results["stations"]["M1"]["states"]["held"]["mean"]


def test_a_fast_served_run_gives_the_figures_of_twin_run(tmp_path: Path) -> None:
    """As fast as possible (in batches), a served run's results are `twin run`'s to the bit."""
    out = tmp_path / "served"
    proc, _, _ = serve("demo", "--horizon", "6h", "--out", str(out))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    alone = tmp_path / "alone.json"
    run = subprocess.run(
        [*TWIN, "run", "demo", "--horizon", "6h", "--reps", "1", "--json", str(alone)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(alone.read_text(encoding="utf-8"))
    assert (doc["line"], doc["stations"]) == (results["line"], results["stations"])
    assert results["line"]["throughput_per_hour"]["mean"] > 0


def test_ctrl_c_sends_death_and_exits_130(tmp_path: Path) -> None:
    """Interrupted, the server tells its subscribers and exits 130."""
    proc, stream, _ = serve("mm1", "--horizon", "10h", "--speed", "100", "--wait", "1")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(stream)
        assert sub.poll(30_000), "nothing streamed"
        proc.send_signal(signal.SIGINT)
        topics = []
        while sub.poll(10_000):
            topics.append(sub.recv_multipart()[0])
            if topics[-1] == b"death/":
                break
        assert topics[-1] == b"death/"
    finally:
        ctx.destroy(linger=0)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr


def test_the_maintenance_agent_command_acts_on_a_served_line(tmp_path: Path) -> None:
    """`twin agent maintenance` against `twin serve`: its maintenances show in the results."""
    from test_agents import LINE

    scenario = tmp_path / "wearing.yaml"
    scenario.write_text(LINE, encoding="utf-8")
    out = tmp_path / "served"
    proc, stream, control = serve(
        str(scenario), "--lockstep", "10min", "--agents", "1", "--out", str(out)
    )
    rule = ["--every", "1h", "--duration", "10min", "--until", "2min"]
    agent = subprocess.run(
        [*TWIN, "agent", "maintenance", "--connect", stream, "--control", control, *rule],
        capture_output=True,
        text=True,
        timeout=180,
    )
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert agent.returncode == 0, agent.stderr
    assert re.search(r"^\d+ maintenances applied, \d+ refused$", agent.stderr.strip(), re.M)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["stations"]["GRIND"]["maintenances"]["mean"] > 10


def test_an_agent_with_a_bad_address_is_told_so() -> None:
    """A --connect that is not tcp://HOST:PORT: exit 2, naming the option."""
    result = subprocess.run(
        [*TWIN, "agent", "maintenance", "--connect", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "option --connect: expected tcp://HOST:PORT" in result.stderr


def test_twin_watch_shows_the_line_it_follows(tmp_path: Path) -> None:
    """`twin watch` joins a served line and, without a terminal, prints its last view:
    every machine with its state, the buffers, the parts inside and recent events."""
    from test_agents import LINE

    scenario = tmp_path / "wearing.yaml"
    scenario.write_text(LINE, encoding="utf-8")
    proc, stream, control = serve(str(scenario), "--speed", "86400", "--wait", "1")
    watch = subprocess.run(
        [*TWIN, "watch", "--connect", stream, "--control", control, "--until", "2min"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "100"},
    )
    proc.communicate(timeout=60)
    assert watch.returncode == 0, watch.stderr
    view = watch.stdout
    assert re.search(r"GRIND\.0\s+■ (busy|starved|blocked|down|setup)", view), view
    assert re.search(r"WASH\.buffer\s+\d", view), view
    assert re.search(r"\d+ parts in the line", view), view
    assert re.search(r"GRIND\.0 (fail|repair)", view), view


SCRIPT = """\
- {at: 1h, action: fail, target: GRIND.0, params: {repair: 45min}}
- {at: 2h, action: hold, target: WASH}
- {at: 3h, action: release, target: WASH}
"""


def test_the_trainer_agent_plays_its_script(tmp_path: Path) -> None:
    """`twin agent trainer --script`: each action is applied once the clock reaches its time
    (in lock-step: exactly then)."""
    from test_agents import LINE

    scenario = tmp_path / "wearing.yaml"
    scenario.write_text(LINE, encoding="utf-8")
    script = tmp_path / "faults.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    out = tmp_path / "served"
    served = ["--horizon", "6h", "--lockstep", "10min", "--agents", "1", "--out", str(out)]
    proc, stream, control = serve(str(scenario), *served)
    where = ["--connect", stream, "--control", control, "--until", "3min"]
    trainer = subprocess.run(
        [*TWIN, "agent", "trainer", "--script", str(script), *where],
        capture_output=True,
        text=True,
        timeout=240,
    )
    proc.communicate(timeout=60)
    assert trainer.returncode == 0, trainer.stderr
    applied = json.loads((out / "commands.json").read_text(encoding="utf-8"))
    assert "3 of 3 scripted actions applied" in trainer.stderr, applied
    assert [(c["action"], c["target"]) for c in applied] == [
        ("fail", "GRIND.0"),
        ("hold", "WASH"),
        ("release", "WASH"),
    ]
    # In lock-step each action is sent at the first barrier at or after its time.
    assert [c["at"] for c in applied] == [3600.0, 7200.0, 10800.0]


def test_a_bad_script_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    """A script with a typo: exit 2, naming the file, the line and the field."""
    script = tmp_path / "faults.yaml"
    script.write_text(SCRIPT.replace("repair: 45min", "repiar: 45min"), encoding="utf-8")
    result = subprocess.run(
        [*TWIN, "agent", "trainer", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"error: {script}:1: [0]: params.repiar: unknown field" in result.stderr
