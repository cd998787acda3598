"""Edge agents on a live line: the maintenance agent's rule lowers breakdown time."""

from __future__ import annotations

from collections.abc import Callable

from live import LOOPBACK, Served

from bridges.agent import MaintenanceAgent
from bridges.client import TwinClient
from bridges.server import Settings
from scenarios.experiment import run_replication
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


def test_the_maintenance_agent_lowers_breakdown_time(scenario: Callable[[str], Scenario]) -> None:
    """Served with the agent, the grinder is down far less than in the run without it. The
    agent's requests are applied, except the few that reach a machine already down."""
    model = scenario(LINE)
    alone = run_replication(model, 0)["stations"]["GRIND"]
    served = Served(model, Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=86400.0))
    with TwinClient(served.pub, served.ctl) as client:
        agent = MaintenanceAgent(client, every=3600.0, duration=600.0)
        agent.run(until=120.0)
    helped = served.join()["stations"]["GRIND"]
    applied = [r for r in agent.replies if r["ok"]]
    refused = {r["code"] for r in agent.replies if not r["ok"]}
    assert len(applied) >= 0.9 * len(agent.replies) > 0
    assert refused <= {"not_allowed_in_state"}
    assert helped["maintenances"] > 0.5 * len(applied)
    assert helped["states"]["down"] < 0.5 * alone["states"]["down"]
    assert helped["failures"] < 0.5 * alone["failures"]
    assert helped["states"]["maintenance"] > 0
