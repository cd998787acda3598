"""Edge agents on a live line: the maintenance agent's rule lowers breakdown time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import zmq
from live import DEADLINE, LOOPBACK, Served

from bridges.agent import MaintenanceAgent
from bridges.client import SyncError, TwinClient
from bridges.server import Settings
from scenarios.experiment import run_replication
from scenarios.replay import replay
from scenarios.schema import Scenario

# A wearing machine (Weibull shape 3: failures come with age) and long repairs: replacing
# it by age (maintenance after 1 h of work, 10 min) prevents most breakdowns. Renewal
# theory: about 0.12 failures per operating hour instead of 0.56.
LINE = """\
name: wearing
seed: 17
horizon: 4d
stations:
  - id: GRIND
    input_buffer: 0
    process_time: {dist: exponential, mean: 60s}
    failures: {mtbf: {dist: weibull, shape: 3, scale: 2h}, mttr: 30min}
  - id: WASH
    input_buffer: 5
    process_time: 30s
"""


def served_with_agent(
    model: Scenario, every: float = 3600.0
) -> tuple[dict[str, Any], MaintenanceAgent, list[dict[str, Any]]]:
    """One lock-step session (10 min steps, as fast as possible) with a maintenance agent;
    the run's KPIs, the agent, and the commands the server applied."""
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, lockstep=600.0, agents=1)
    served = Served(model, settings)
    with TwinClient(served.pub, served.ctl) as client:
        agent = MaintenanceAgent(client, every=every, duration=600.0, name="keeper")
        agent.run(until=DEADLINE)
    kpis = served.join()
    assert served.server is not None
    return kpis, agent, served.server.applied


def test_the_maintenance_agent_lowers_breakdown_time(scenario: Callable[[str], Scenario]) -> None:
    """Served in lock-step with the agent, the grinder is down far less than in the run
    without it. The agent's requests are applied, except the few that reach a machine
    already down."""
    model = scenario(LINE)
    alone = run_replication(model, 0)["stations"]["GRIND"]
    kpis, agent, _ = served_with_agent(model)
    helped = kpis["stations"]["GRIND"]
    applied = [r for r in agent.replies if r["ok"]]
    refused = {r["code"] for r in agent.replies if not r["ok"]}
    assert len(applied) >= 0.9 * len(agent.replies) > 0
    assert refused <= {"not_allowed_in_state"}
    assert helped["maintenances"] > 0.5 * len(applied)
    assert helped["states"]["down"] < 0.5 * alone["states"]["down"]
    assert helped["failures"] < 0.5 * alone["failures"]
    assert helped["states"]["maintenance"] > 0


def test_a_lockstep_session_is_reproducible_and_replays_without_the_network(
    scenario: Callable[[str], Scenario],
) -> None:
    """Two lock-step sessions with the same deterministic agent give the same commands at
    the same times and the same figures to the bit; replaying the recorded commands
    (`twin run --commands`) gives those figures too."""
    model = scenario(LINE.replace("horizon: 4d", "horizon: 1d"))
    first, agent, applied = served_with_agent(model)
    second, _, again = served_with_agent(model)

    def strip(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k != "cmd_id"} for e in entries]

    assert applied and strip(applied) == strip(again)
    assert first == second
    assert all(entry["at"] % 600.0 == 0.0 for entry in applied)  # applied at barriers
    assert replay(model, applied) == first
    assert first != run_replication(model, 0)
    assert len(agent.replies) == len(applied) + sum(not r["ok"] for r in agent.replies)


def test_a_late_agent_is_named_and_dropped(scenario: Callable[[str], Scenario]) -> None:
    """An agent that registers and never says ready: at the first barrier the server waits
    its timeout, names it, drops it and goes on; the run ends with the batch run's results."""
    model = scenario(LINE.replace("horizon: 4d", "horizon: 2h"))
    late: list[tuple[float, list[str]]] = []
    settings = Settings(
        pub=LOOPBACK,
        ctl=LOOPBACK,
        lockstep=1800.0,
        agents=1,
        agent_timeout=0.3,
        on_late=lambda t, names: late.append((t, names)),
    )
    served = Served(model, settings)
    with TwinClient(served.pub, served.ctl) as client:
        client.sync()
        assert client.register("sleepy")["lockstep"] == 1800.0
        end = time.monotonic() + DEADLINE
        while not client.ended and time.monotonic() < end:
            client.poll(0.05)
        assert client.dropped_as_late == [1800.0]
    assert late == [(1800.0, ["sleepy"])]
    assert served.join() == run_replication(model, 0)


def test_registration_is_checked(scenario: Callable[[str], Scenario]) -> None:
    """A name is 1-64 printable characters and unique; ready before register is refused."""
    model = scenario(LINE.replace("horizon: 4d", "horizon: 1h"))
    # Held at 0 until a third subscriber comes: the requests below meet a line at rest.
    served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=3))
    with TwinClient(served.pub, served.ctl) as one, TwinClient(served.pub, served.ctl) as two:
        for bad in ("", "x" * 65, "tab\there"):
            with pytest.raises(SyncError, match="name must be a printable string"):
                one.register(bad)
        one.register("agent-1")
        with pytest.raises(SyncError, match="registered already"):
            two.register("agent-1")
        two.ctl.send(json.dumps({"type": "ready", "t": 5}).encode())
        assert two.ctl.poll(int(DEADLINE * 1000))
        assert json.loads(two.ctl.recv())["code"] == "invalid"
        third = one.ctx.socket(zmq.SUB)  # a third subscriber: the clock starts, the run ends
        third.setsockopt(zmq.SUBSCRIBE, b"")
        third.connect(served.pub)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end and third.poll(int(DEADLINE * 1000)):
            if third.recv_multipart()[0] == b"death/":
                break
    served.join()
