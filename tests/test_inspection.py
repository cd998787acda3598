"""Defects and inspection: escapes and rejects against the binomial theory, rework that
repairs, the change stream and part history, and common random numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import simpy
from lines import invoke
from test_theory import assert_agrees, assert_flows, simulate

from models.history import History
from models.kpi import collect
from scenarios.builder import build
from scenarios.experiment import run_replication
from scenarios.overrides import override
from scenarios.schema import Scenario
from twin.changes import Changes
from twin.results import flatten

D, Q, F = 0.1, 0.8, 0.05  # defect rate upstream; the inspection's detect and false reject
HORIZON, WARMUP = 400_000, 5000
RATE = 360.0  # parts/h arriving
SMART = Path(__file__).resolve().parents[1] / "docs" / "examples" / "smart.yaml"


def inspected(on_detect: str, d: float = D, q: float = Q, f: float = F) -> str:
    """A part every 10 s (exponential) through MAKE (5 s, defects) and INSPECT (4 s)."""
    return f"""\
name: inspected
seed: 21
horizon: {HORIZON}
warmup: {WARMUP}
replications: 4
arrivals: {{interarrival: {{dist: exponential, mean: 10s}}}}
stations:
  - id: MAKE
    process_time: {{dist: exponential, mean: 5s}}
    defects: {{rate: {d}}}
  - id: INSPECT
    process_time: {{dist: exponential, mean: 4s}}
    inspection: {{detect: {q}, false_reject: {f}, on_detect: {on_detect}}}
"""


def assert_binomial(hits: float, n: float, p: float) -> None:
    """``hits`` successes in ``n`` trials agree with probability ``p`` within 4 sigma."""
    sigma = math.sqrt(p * (1.0 - p) / n)
    share = hits / n
    assert abs(share - p) <= 4.0 * sigma, f"{share:.5f} against {p:.5f} ± {4 * sigma:.5f}"


def after_warmup(kpis: dict[str, Any], per_hour: str) -> float:
    """A count after the warm-up, from its rate per hour in one replication's KPIs."""
    return round(float(kpis["line"][per_hour]) * (HORIZON - WARMUP) / 3600.0)


def test_escapes_and_scrap_match_the_binomial_theory(scenario: Callable[[str], Scenario]) -> None:
    """Defects d upstream, an inspection (detect q, false reject f) that scraps: of the parts
    leaving the line, d(1 - q) escape and dq + (1 - d)f are scrapped; the rest flows as it
    should (Little's law over every part leaving, every part accounted for)."""
    scrap = D * Q + (1 - D) * F
    doc = simulate(scenario(inspected("scrap")))
    line, make, check = doc["line"], doc["stations"]["MAKE"], doc["stations"]["INSPECT"]
    assert_agrees(line["throughput_per_hour"], RATE * (1 - scrap), rel=0.03)
    assert_agrees(line["scrap_rate"], scrap, rel=0.03)
    assert_agrees(line["escapes_ppm"], 1e6 * D * (1 - Q) / (1 - scrap), rel=0.1)
    # Scrapped parts spend the same time in the line as shipped ones (they are scrapped
    # after the last station): WIP = parts leaving per second x lead time.
    leaving = line["throughput_per_hour"]["mean"] + line["scrap_per_hour"]["mean"]
    flow = leaving / 3600.0 * line["lead_time_s"]["mean"]["mean"]
    assert flow == pytest.approx(line["wip"]["mean"], rel=0.03)
    parts = {k: values(v) for k, v in line["parts"].items()}
    for created, finished, scrapped, inside in zip(
        parts["created"], parts["finished"], parts["scrapped"], parts["in_system"], strict=True
    ):
        assert created == finished + scrapped + inside
    # Pooled over the replications, each part leaving is one Bernoulli trial.
    span = (HORIZON - WARMUP) / 3600.0
    shipped = sum(round(x * span) for x in values(line["throughput_per_hour"]))
    scrapped = sum(round(x * span) for x in values(line["scrap_per_hour"]))
    exits = shipped + scrapped
    assert exits > 150_000
    assert_binomial(sum(values(line["escapes"])), exits, D * (1 - Q))
    assert_binomial(scrapped, exits, scrap)
    assert_binomial(sum(values(make["defects_made"])), sum(values(make["produced"])), D)
    # Every inspected part is detected, falsely rejected or passed; the line sums stations.
    outcomes = [values(check[k]) for k in ("detected", "false_rejects", "passed")]
    assert [sum(x) for x in zip(*outcomes, strict=True)] == values(check["produced"])
    assert values(line["detected"]) == values(check["detected"])
    assert values(line["false_rejects"]) == values(check["false_rejects"])
    assert values(line["defective_made"]) == values(make["defects_made"])
    # No rework: first pass means shipped and not defective.
    first = sum(
        x * y for x, y in zip(values(line["first_pass_yield"]), exits_of(line), strict=True)
    )
    assert round(first) == shipped - sum(values(line["escapes"]))


def values(figure: dict[str, Any]) -> list[float]:
    """A figure's value in each replication."""
    return [float(v) for v in figure["values"]]


def exits_of(line: dict[str, Any]) -> list[float]:
    """Parts leaving the line after the warm-up, in each replication."""
    span = (HORIZON - WARMUP) / 3600.0
    pairs = zip(values(line["throughput_per_hour"]), values(line["scrap_per_hour"]), strict=True)
    return [round(x * span) + round(y * span) for x, y in pairs]


def test_rework_on_detect_repairs_and_conserves_parts(scenario: Callable[[str], Scenario]) -> None:
    """Rejected parts go back to MAKE, which repairs them: nothing is scrapped, all parts
    leave (Little's law holds with the loop); a share r = dq + (1 - d)f of the inspections
    sends parts back, d(1 - q)/(1 - r) of the parts shipped escape, and (1 - d)(1 - f) of
    them pass first time."""
    r = D * Q + (1 - D) * F
    kpis = assert_flows(scenario(inspected("{rework: MAKE}")), RATE)
    line, check = kpis["line"], kpis["stations"]["INSPECT"]
    assert line["parts"]["scrapped"] == 0.0
    shipped = after_warmup(kpis, "throughput_per_hour")
    assert_binomial(check["reworked"], check["produced"], r)
    assert check["reworked"] == check["detected"] + check["false_rejects"]
    # Without the repair a reworked defective part would stay defective: more escapes.
    assert_binomial(line["escapes"], shipped, D * (1 - Q) / (1 - r))
    assert_binomial(line["first_pass_yield"] * shipped, shipped, (1 - D) * (1 - F))
    # Each part passes MAKE 1/(1 - r) times on average.
    make = kpis["stations"]["MAKE"]
    assert make["produced"] / shipped == pytest.approx(1 / (1 - r), rel=0.01)


def test_rework_at_the_inspection_itself(scenario: Callable[[str], Scenario]) -> None:
    """Sent to rework at the inspecting station, a part queues there again on its place:
    every part is still accounted for, and its buffer place is not lost (a finite buffer
    keeps the line flowing)."""
    text = inspected("{rework: INSPECT}").replace(
        "  - id: INSPECT\n", "  - id: INSPECT\n    input_buffer: 3\n"
    )
    kpis = run_replication(override(scenario(text), {"horizon": 100_000}), 0)
    parts, check = kpis["line"]["parts"], kpis["stations"]["INSPECT"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    assert parts["scrapped"] == 0.0
    assert check["reworked"] == check["detected"] + check["false_rejects"] > 500
    # Repaired at INSPECT, which makes no defect, a part escapes only when its first
    # inspection misses its defect.
    shipped = round(kpis["line"]["throughput_per_hour"] * (100_000 - WARMUP) / 3600.0)
    assert_binomial(kpis["line"]["escapes"], shipped, D * (1 - Q))


@pytest.mark.parametrize(("on_detect", "then"), [("scrap", "scrap"), ("{rework: MAKE}", "rework")])
def test_rejects_are_streamed_and_kept_in_the_part_history(
    scenario: Callable[[str], Scenario], on_detect: str, then: str
) -> None:
    """Each rejected part gives a ``reject`` record (detected or false_reject) followed by
    its scrap or rework; the history follows a part from its defect to its detection."""
    env = simpy.Environment()
    changes = Changes()
    seen: list[Any] = []
    changes.subscribe(seen.append)
    text = inspected(on_detect).replace(f"warmup: {WARMUP}", "warmup: 0")
    line = build(env, scenario(text), 0, changes)
    line.history = History()
    env.run(until=20_000)
    kpis = collect(line, env.now)
    check = kpis["stations"]["INSPECT"]
    rejects = [i for i, c in enumerate(seen) if c.kind == "reject"]
    by_value = {v: sum(seen[i].value == v for i in rejects) for v in ("detected", "false_reject")}
    assert by_value == {"detected": check["detected"], "false_reject": check["false_rejects"]}
    assert all(v > 0 for v in by_value.values())
    for i in rejects:
        after = seen[i + 1]
        assert (after.kind, after.scope, after.part, after.time) == (
            then,
            seen[i].scope,
            seen[i].part,
            seen[i].time,
        )
    events = line.history.events
    what = [(e.what, e.detail) for e in events]
    assert what.count(("defective", "made")) == kpis["line"]["defective_made"]
    assert what.count(("inspected", "detected")) == check["detected"]
    assert what.count(("defective", "escape")) == kpis["line"]["escapes"]
    detected = next(e.part for e in events if e.detail == "detected")
    story = [
        (e.where, e.what, e.detail)
        for e in line.history.of(detected)
        if e.what in ("defective", "inspected")
    ]
    assert story[:2] == [("MAKE.0", "defective", "made"), ("INSPECT.0", "inspected", "detected")]
    # Scrapped, its story ends there; reworked (repaired), it is inspected again.
    assert len(story) == 2 if then == "scrap" else story[-1][1] == "inspected"


CRN = """\
name: crn
seed: 3
horizon: 200000
warmup: 2000
replications: 2
arrivals: {interarrival: {dist: exponential, mean: 50s}}
stations:
  - id: M1
    servers: 2
    input_buffer: 4
    process_time: {dist: gamma, mean: 70s, cv: 0.6}
    failures: {mtbf: {dist: exponential, mean: 2h}, mttr: {dist: exponential, mean: 5min}}
    scrap_rate: 0.02
  - id: M2
    input_buffer: 2
    process_time: {dist: exponential, mean: 35s}
  - id: M3
    process_time: {dist: exponential, mean: 30s}
"""


def _flows(kpis: dict[str, Any]) -> dict[str, float]:
    """Every figure but those of the defects and inspection layer."""
    quality = {"first_pass_yield", "escapes", "escapes_ppm", "defective_made", "detected"}
    quality |= {"false_rejects", "defects_made", "passed"}
    line = {k: v for k, v in kpis["line"].items() if k not in quality}
    stations = {
        sid: {k: v for k, v in st.items() if k not in quality}
        for sid, st in kpis["stations"].items()
    }
    return flatten({"line": line, "stations": stations})


@pytest.mark.parametrize(
    ("m2", "m3"),
    [
        pytest.param("defects: {rate: 0}", "inspection: {detect: 0}", id="inert"),
        pytest.param("defects: {rate: 0.3}", "", id="defects-nobody-looks-for"),
        pytest.param("", "inspection: {detect: 0.9}", id="inspection-of-good-parts"),
    ],
)
def test_a_layer_that_rejects_nothing_changes_nothing(
    scenario: Callable[[str], Scenario], m2: str, m3: str
) -> None:
    """Defects and an inspection that rejects no part change no other figure, to the bit:
    they draw from streams of their own; stations without them keep the plain path."""
    text = CRN.replace("mean: 35s}\n", f"mean: 35s}}\n    {m2}\n")
    text = text.replace("mean: 30s}\n", f"mean: 30s}}\n    {m3}\n")
    varied = scenario(text)
    for replication in (0, 1):
        base = run_replication(scenario(CRN), replication)
        kpis = run_replication(varied, replication)
        assert _flows(kpis) == _flows(base)
        assert kpis["line"]["detected"] == kpis["line"]["false_rejects"] == 0.0
        if "0.3" in m2:
            assert kpis["line"]["escapes"] > 0.25 * kpis["line"]["parts"]["finished"]
    line = build(simpy.Environment(), varied, 0)
    assert [st.plain for st in line.stations.values()] == [False, not m2, not m3]


def test_the_smart_example_shows_what_it_found(tmp_path: Path) -> None:
    """The issue's example, 3 days of it, run from the command line: defects made at OD and
    ID, found at INSPECT or escaping, in the results document and the tables."""
    out = tmp_path / "smart.json"
    args = ["--horizon", "3d", "--warmup", "1d", "--reps", "2", "--workers", "1"]
    result = invoke("run", str(SMART), *args, "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    line, stations = doc["line"], doc["stations"]
    for k in range(2):
        made = sum(stations[s]["defects_made"]["values"][k] for s in ("OD", "ID"))
        assert line["defective_made"]["values"][k] == made > 0
        assert line["detected"]["values"][k] == stations["INSPECT"]["detected"]["values"][k] > 0
    assert "defects_made" not in stations["WASH"] and "passed" not in stations["ID"]
    assert 0 < line["first_pass_yield"]["mean"] < 1
    text = " ".join(result.stdout.split())
    assert "escapes (per million shipped)" in text
    assert "stations: defects and inspection" in text


def test_a_line_without_the_layer_shows_none_of_it(scenario_file: Callable[[str], Path]) -> None:
    """Scenarios without defects or inspection keep their figures and tables: no new names."""
    out = scenario_file("", "out.json")
    result = invoke("run", str(scenario_file(CRN)), "--workers", "1", "--json", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert "escapes_ppm" not in doc["line"]
    assert all("defects_made" not in st for st in doc["stations"].values())
    assert "escapes" not in result.stdout and "defects and inspection" not in result.stdout
