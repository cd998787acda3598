"""The smart-workshop file of its issue loads as written; its cross-references are checked
and a mistake is named where it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from scenarios.jsonschema import scenario_schema
from scenarios.loader import ScenarioError, load, loads

SMART = Path(__file__).resolve().parents[1] / "docs" / "examples" / "smart.yaml"


def test_the_smart_cell_loads_as_written() -> None:
    model = load(SMART)
    od, id_, _, inspect = model.stations
    assert model.identifiers is not None and model.identifiers.line == "CELL1"
    assert model.network is not None
    assert [x.id for x in model.network.links] == ["wired", "wifi", "5g"]
    assert model.network.edge[0].capacity == 200
    assert model.crews[0].count == 1 and model.crews[0].response.expected == 900
    assert od.condition is not None and od.condition.wear.rate == 1.0
    assert od.condition.fails_at.expected == 100
    assert od.sensors[0].every == 600 and od.sensors[0].edge == "edge1"
    assert od.maintenance is not None and od.maintenance.kind == "condition"
    assert od.maintenance.duration is not None and od.maintenance.duration.expected == 2700
    assert od.defects is not None and od.defects.per_wear == 0.0002
    assert id_.maintenance is None and id_.failures is not None
    assert inspect.inspection is not None and inspect.inspection.on_detect == "scrap"


def test_the_json_schema_takes_the_smart_cell() -> None:
    validator = Draft202012Validator(json.loads(json.dumps(scenario_schema())))
    document = yaml.safe_load(SMART.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


BASE = """\
name: cell
network:
  links: [{id: wifi, latency: 40ms, loss: 0.03}]
  edge: [{id: edge1, compute: 50ms, capacity: 200}]
crews: [{id: maint, count: 1, response: 15min}]
stations:
  - id: A
    process_time: 50s
    link: wifi
    condition:
      wear: {rate: 1.0}
      fails_at: 100
      repair: 4h
    sensors: [{id: vib, noise: 4.0, every: 10min, edge: edge1}]
    maintenance: {policy: condition, alarm: {sensor: vib, above: 80}, duration: 45min, crew: maint}
  - id: B
    process_time: 20s
    inspection: {detect: 0.95, on_detect: {rework: A}}
"""


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("link: wifi", "link: wi-fi", "stations[A].link", "unknown link 'wi-fi'"),
        (
            "edge: edge1}]\n    maint",
            "edge: edge9}]\n    maint",
            "stations[A].sensors[vib].edge",
            "unknown edge node 'edge9'",
        ),
        ("crew: maint}", "crew: fitters}", "stations[A].maintenance.crew", "unknown crew"),
        (
            "sensor: vib,",
            "sensor: temp,",
            "stations[A].maintenance.alarm.sensor",
            "unknown sensor 'temp'",
        ),
        (
            "policy: condition, alarm: {sensor: vib, above: 80}, ",
            "policy: condition, ",
            "stations[A].maintenance",
            "needs an 'alarm'",
        ),
        (
            "{rework: A}",
            "{rework: C}",
            "stations[B].inspection.on_detect.rework",
            "does not visit before",
        ),
        (
            "crews: [{id: maint, count: 1, response: 15min}]",
            "crews: [{id: maint, count: 1}, {id: maint, count: 2}]",
            "crews[maint].id",
            "more than once",
        ),
        ("  edge: [", "  links2: [", "network.links2", "unknown field"),
    ],
)
def test_mistakes_are_named_where_they_are(old: str, new: str, where: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(ScenarioError) as info:
        loads(BASE.replace(old, new), "cell.yaml")
    text = str(info.value)
    assert message.lower() in text.lower(), text
    fields = [p.field for p in info.value.problems]
    assert where in fields, fields


def test_sensors_need_wear_to_measure() -> None:
    text = BASE.replace("    sensors: [{id: vib", "    sensors: [{id: vib").replace(
        "  - id: B\n    process_time: 20s\n",
        "  - id: B\n    process_time: 20s\n    sensors: [{id: t, every: 1min}]\n",
    )
    with pytest.raises(ScenarioError, match="no 'condition'"):
        loads(text, "cell.yaml")


def test_wear_refuses_calendar_failures() -> None:
    text = BASE.replace(
        "    link: wifi\n", "    link: wifi\n    failures: {mtbf: 8h, mttr: 1h, basis: calendar}\n"
    )
    with pytest.raises(ScenarioError, match="operating time"):
        loads(text, "cell.yaml")


def test_the_smart_cell_runs_as_written() -> None:
    """One replication of the file as written (30 days): every figure of the layer is
    there, the one wearing machine is maintained by condition, and the live sample counts
    what the results count."""
    import simpy

    from models.kpi import collect, sample
    from scenarios.builder import build

    model = load(SMART)
    env = simpy.Environment()
    line = build(env, model, 0)
    env.run(until=model.horizon)
    kpis = collect(line, env.now)
    figures = kpis["line"]
    assert figures["networking_rate"] == 0.75
    assert figures["readings"]["sent"] > 3000 and figures["readings"]["lost"] > 0
    assert sum(figures["alarms"].values()) > 0 and 0 < figures["crews"]["maint"] < 1
    assert kpis["stations"]["OD"]["maintenances"] > 0
    assert figures["escapes"] >= 0 and kpis["stations"]["INSPECT"]["detected"] > 0
    now = sample(line, env.now)
    assert now["escapes"] == figures["escapes"]
    assert now["false_rejects"] == figures["false_rejects"]
    assert now["alarms_false"] == figures["alarms"]["false"]
