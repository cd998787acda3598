"""The agent written out in docs/live.md runs as printed against a served line with keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lines import invoke
from live import LOOPBACK, Served

from bridges.server import Settings
from scenarios.schema import Scenario

DOC = Path(__file__).parent.parent / "docs" / "live.md"
# A line whose grinder queue fills, then drains: the agent slows the arrivals, then not.
LINE = """\
name: filling
seed: 2
horizon: 8h
arrivals:
  interarrival: {dist: exponential, mean: 50s}
stations:
  - id: TURN
    process_time: {dist: exponential, mean: 30s}
  - id: IDGRIND
    input_buffer: 40
    process_time: {dist: exponential, mean: 52s}
    failures: {mtbf: {dist: exponential, mean: 1h}, mttr: 20min}
"""


def test_the_agent_of_the_live_session_page_runs_as_printed(
    tmp_path: Path, scenario: Callable[[str], Scenario]
) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert code is not None
    keys = tmp_path / "keys"
    invoke("keys", "init", str(keys))
    invoke("keys", "add", str(keys), "team2", "--role", "agent")
    settings = Settings(pub=LOOPBACK, ctl=LOOPBACK, wait=1, speed=28800.0, curve=keys)
    served = Served(scenario(LINE), settings)
    program = (
        code.group(1)
        .replace('"team2.key_secret"', repr(str(keys / "clients" / "team2.key_secret")))
        .replace('"server.key"', repr(str(keys / "server.key")))
        .replace('"tcp://SERVER:5556"', repr(served.pub))
        .replace('"tcp://SERVER:5557"', repr(served.ctl))
        .replace("print(agent.replies)", "")
    )
    namespace: dict[str, object] = {}
    exec(compile(program, str(DOC), "exec"), namespace)
    served.join()
    replies = namespace["agent"].replies  # type: ignore[attr-defined]
    assert replies and all(r["ok"] for r in replies)
    assert served.server is not None
    factors = [c["params"]["factor"] for c in served.server.applied]
    assert factors[:2] == [0.5, 1.0]
