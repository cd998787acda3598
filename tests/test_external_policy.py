"""`policy: external`: sensor readings reach an edge agent over real sockets after their
link and edge delays, and the agent's `maintain` command is the only trigger."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from live import DEADLINE, LOOPBACK, Served

from bridges.agent import ConditionAgent
from bridges.client import TwinClient
from bridges.server import Settings
from scenarios.experiment import run_replication
from scenarios.schema import Scenario

# A grinder that wears to its limit in about 20 h of work, then takes 6 h to repair; a
# wear sensor on a 5G link reads it every 10 minutes.
CELL = """\
name: external cell
seed: 11
horizon: 6d
network:
  links: [{id: 5g, latency: 12ms, loss: 0.01}]
  edge: [{id: edge1, compute: 50ms, capacity: 200}]
stations:
  - id: GRIND
    process_time: {dist: gamma, mean: 60s, cv: 0.2}
    link: 5g
    condition:
      wear: {rate: 5.0, cv: 0.3}
      fails_at: {dist: normal, mean: 100, sd: 5}
      repair: 6h
    sensors: [{id: vib, noise: 2.0, every: 10min, edge: edge1}]
    maintenance: {policy: external, duration: 30min}
  - id: WASH
    input_buffer: 5
    process_time: 30s
"""


def served(model: Scenario) -> tuple[dict[str, Any], ConditionAgent, list[dict[str, Any]]]:
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, lockstep=600.0, agents=1)
    server = Served(model, settings)
    with TwinClient(server.pub, server.ctl) as client:
        agent = ConditionAgent(client, above=80.0, duration=1800.0, name="watcher")
        readings: list[float] = []
        client.listeners.append(lambda c: readings.append(c.time) if c.kind == "reading" else None)
        agent.run(until=DEADLINE)
        birth = client.birth
    kpis = server.join()
    assert birth is not None
    entities = {e["scope"]: e for e in birth["entities"]}
    assert entities["GRIND.0"]["link"] == "5g" and "link" not in entities["WASH.0"]
    assert entities["GRIND.0.vib"] == {
        "scope": "GRIND.0.vib",
        "kind": "sensor",
        "machine": "GRIND.0",
        "metrics": {"reading": "wear"},
    }
    assert server.server is not None
    assert len(readings) > 500  # the readings came over the stream
    assert all(t % 600.0 != 0.0 for t in readings)  # after their link and edge delays
    return kpis, agent, server.server.applied


def test_the_agent_alone_maintains_and_prevents_breakdowns(
    scenario: Callable[[str], Scenario],
) -> None:
    model = scenario(CELL)
    alone = run_replication(model, 0)["stations"]["GRIND"]
    # Without the agent nothing maintains the machine: every life ends in a breakdown.
    assert alone["maintenances"] == 0 and alone["wear_breakdowns"] >= 4
    kpis, agent, applied = served(model)
    helped = kpis["stations"]["GRIND"]
    assert [a["action"] for a in applied] == ["maintain"] * len(applied)
    assert helped["maintenances"] == len(applied) >= 4
    assert all(r["ok"] for r in agent.replies)
    assert helped["wear_breakdowns"] < alone["wear_breakdowns"]
    assert helped["states"]["down"] < 0.5 * alone["states"]["down"]


def test_the_condition_agent_command_maintains_a_served_line(tmp_path: Path) -> None:
    """`twin agent condition` against `twin serve --lockstep`: its maintenances, and only
    they, show in the results."""
    from test_serve import TWIN, serve

    scenario = tmp_path / "external.yaml"
    scenario.write_text(CELL.replace("horizon: 6d", "horizon: 3d"), encoding="utf-8")
    out = tmp_path / "served"
    proc, stream, control = serve(
        str(scenario), "--lockstep", "10min", "--agents", "1", "--out", str(out)
    )
    rule = ["--above", "80", "--sensor", "vib", "--duration", "30min", "--until", "2min"]
    agent = subprocess.run(
        [*TWIN, "agent", "condition", "--connect", stream, "--control", control, *rule],
        capture_output=True,
        text=True,
        timeout=180,
    )
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert agent.returncode == 0, agent.stderr
    found = re.search(r"^(\d+) maintenances applied, 0 refused$", agent.stderr.strip(), re.M)
    assert found and int(found.group(1)) >= 2, agent.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["stations"]["GRIND"]["maintenances"]["mean"] == int(found.group(1))


def test_the_condition_agent_refuses_a_threshold_that_is_not_a_number() -> None:
    from test_serve import TWIN

    result = subprocess.run(
        [*TWIN, "agent", "condition", "--above", "nan"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--above must be a finite number" in result.stderr
