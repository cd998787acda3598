"""Station KPIs as ISO 22400-2 defines them, and the bottleneck found from the simulation.

Deterministic lines give every time element exactly, so each indicator is checked against
its closed form; random ones are checked against theory within their confidence interval.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scenarios.experiment import run, run_replication
from scenarios.figures import bottleneck
from scenarios.loader import loads
from twin.cli import app

# Saturated, deterministic: M1 (30 s, ideal 24 s) feeds M2 (40 s) with no buffer between
# them, then M3 (20 s). From t = 30 s on, the line repeats every 40 s: M1 busy 30 s and
# blocked 10 s, M2 always busy, M3 busy 20 s and starved 20 s. The 4000 s observed after
# the warm-up are exactly 100 such periods, with 100 parts finished at each station.
DETERMINISTIC = """\
name: deterministic three-station line
seed: 1
horizon: 4085
warmup: 85
replications: 1
stations:
  - id: M1
    process_time: 30s
    ideal_cycle: 24s
  - id: M2
    input_buffer: 0
    process_time: 40s
  - id: M3
    process_time: 20s
"""


def test_deterministic_line_time_elements() -> None:
    """APT, AUST, ADET, ADOT, AUPT, AUBT and PBT are the seconds of the states, exactly."""
    kpis = run_replication(loads(DETERMINISTIC, "line.yaml"), 0)["stations"]
    keys = ("pbt", "apt", "aust", "adet", "adot", "aupt", "aubt")
    elements = {sid: tuple(st["time_s"][k] for k in keys) for sid, st in kpis.items()}
    assert elements["M1"] == pytest.approx((4000, 3000, 0, 1000, 0, 3000, 4000))
    assert elements["M2"] == pytest.approx((4000, 4000, 0, 0, 0, 4000, 4000))
    assert elements["M3"] == pytest.approx((4000, 2000, 0, 0, 2000, 2000, 2000))
    assert [kpis[s]["produced"] for s in ("M1", "M2", "M3")] == [100, 100, 100]


@pytest.mark.parametrize(
    ("sid", "expected"),
    [
        # M1: A = 3000/4000, E = 100 x 24 / 3000, blocking is a delay (ADET).
        ("M1", {"availability": 0.75, "effectiveness": 0.8, "oee_index": 0.6,
                "allocation_efficiency": 1.0, "utilisation_efficiency": 0.75,
                "technical_efficiency": 0.75}),
        ("M2", {"availability": 1.0, "effectiveness": 1.0, "oee_index": 1.0,
                "allocation_efficiency": 1.0, "utilisation_efficiency": 1.0,
                "technical_efficiency": 1.0}),
        # M3: starved half the time, which lowers availability but no efficiency of the unit.
        ("M3", {"availability": 0.5, "effectiveness": 1.0, "oee_index": 0.5,
                "allocation_efficiency": 0.5, "utilisation_efficiency": 1.0,
                "technical_efficiency": 1.0}),
    ],
)  # fmt: skip
def test_deterministic_line_indicators(sid: str, expected: dict[str, float]) -> None:
    """Each indicator equals its closed form; no scrap, setup or failure shows as such."""
    st = run_replication(loads(DETERMINISTIC, "line.yaml"), 0)["stations"][sid]
    assert {k: st[k] for k in expected} == pytest.approx(expected)
    assert (st["quality_ratio"], st["scrap_ratio"], st["first_pass_yield"]) == (1.0, 0.0, 1.0)
    assert st["setup_rate"] == 0.0
    assert st["failures"] == 0.0
    assert (st["mtbf_s"], st["mttr_s"]) == (pytest.approx(float("nan"), nan_ok=True),) * 2


def test_deterministic_line_active_periods() -> None:
    """M1 is active 30 s at a time, M2 all along: M2 is the bottleneck, M1 and M3 are not."""
    st = run_replication(loads(DETERMINISTIC, "line.yaml"), 0)["stations"]
    assert st["M1"]["mean_active_period_s"] == pytest.approx(30.0)
    assert st["M2"]["mean_active_period_s"] == pytest.approx(4000.0)
    assert st["M3"]["mean_active_period_s"] == pytest.approx(20.0)
    assert [st[s]["active_share"] for s in ("M1", "M2", "M3")] == pytest.approx([0.75, 1, 0.5])
    assert [st[s]["bottleneck"] for s in ("M1", "M2", "M3")] == [0.0, 1.0, 0.0]


# A saturated machine: 60 s per part, failures every 1 h of processing (exponential),
# repairs of 6 min on average. Never starved or blocked, so it alternates up (all busy)
# and down: A = MTBF / (MTBF + MTTR) = 60/66.
UNRELIABLE = """\
name: unreliable machine
seed: 5
horizon: 5d
warmup: 2h
replications: 8
stations:
  - id: M1
    process_time: 60s
    failures:
      mtbf: {dist: exponential, mean: 1h}
      mttr: {dist: exponential, mean: 6min}
      basis: operating
"""


def assert_within(figure: dict[str, Any], theory: float, rel: float) -> None:
    """Theory lies in three 95% half-widths of the mean, and within ``rel`` of it."""
    mean, half = figure["mean"], figure["ci95_halfwidth"]
    assert abs(mean - theory) <= 3 * half, f"{mean:.6g} ± {half:.3g} vs {theory:.6g}"
    assert abs(mean - theory) <= rel * theory, f"{mean:.6g} vs {theory:.6g}"


def test_unreliable_machine_mtbf_mttr_availability() -> None:
    """Observed MTBF (operating time per failure) and MTTR agree with the inputs."""
    m1 = run(loads(UNRELIABLE, "unreliable.yaml")).summary()["stations"]["M1"]
    assert_within(m1["mtbf_s"], 3600.0, 0.05)
    assert_within(m1["mttr_s"], 360.0, 0.05)
    assert_within(m1["availability"], 60 / 66, 0.01)
    assert_within(m1["technical_efficiency"], 60 / 66, 0.01)
    assert m1["utilisation_efficiency"]["mean"] == m1["technical_efficiency"]["mean"]
    assert m1["effectiveness"]["mean"] == pytest.approx(1.0, abs=1e-3)
    assert m1["oee_index"]["mean"] == pytest.approx(m1["availability"]["mean"], abs=1e-3)


SETUPS = """\
name: changeovers
seed: 3
horizon: 20h
warmup: 1h
replications: {reps}
products:
  - id: A
    route: [M1]
  - id: B
    route: [M1]
arrivals:
  mix: {{A: 0.5, B: 0.5}}
stations:
  - id: M1
    process_time: 60s
    setup: {{time: 30s, when: {when}}}
"""


def test_setup_rate_with_a_setup_before_every_part() -> None:
    """Setup before every part: AUST / AUPT = 30 / 90 and availability 60 / 90, exactly."""
    text = SETUPS.format(reps=1, when="always")
    st = run_replication(loads(text, "setups.yaml"), 0)["stations"]["M1"]
    assert st["setup_rate"] == pytest.approx(1 / 3, rel=1e-3)
    assert st["availability"] == pytest.approx(2 / 3, rel=1e-3)
    assert st["utilisation_efficiency"] == pytest.approx(2 / 3, rel=1e-3)
    assert st["technical_efficiency"] == 1.0


def test_setup_rate_on_product_changes() -> None:
    """A 50/50 mix changes over before half the parts: setup rate 15 / (15 + 60) = 0.2."""
    text = SETUPS.format(reps=8, when="product_change")
    st = run(loads(text, "setups.yaml")).summary()["stations"]["M1"]
    assert_within(st["setup_rate"], 0.2, 0.03)
    assert_within(st["availability"], 0.8, 0.01)


# The gear line, in small: the furnace has the highest ideal load (50 s a part
# against the grinder's 40 s), but the grinder changes over for 60 s on every product
# change, before half its parts: 70 s a part on average, so the grinder holds the line.
GEAR = """\
name: gear line
seed: 9
horizon: 8h
warmup: 1h
replications: 6
products:
  - id: G1
    route: [FURNACE, GRIND]
  - id: G2
    route: [FURNACE, GRIND]
arrivals:
  mix: {G1: 0.5, G2: 0.5}
stations:
  - id: FURNACE
    input_buffer: 2
    process_time: 50s
  - id: GRIND
    input_buffer: 2
    process_time: 40s
    setup: {time: 60s, when: product_change}
"""


def ideal_load_pick(text: str) -> str:
    """The former rule: the station with the highest ideal process time per machine."""
    scenario = loads(text, "gear.yaml")
    load = {s.id: s.process_time.expected / s.servers for s in scenario.stations}  # type: ignore[union-attr]
    return max(load, key=lambda sid: load[sid])


def test_setup_dominated_bottleneck_is_found() -> None:
    """The active-period method picks the grinder in every replication; ideal load would not."""
    result = run(loads(GEAR, "gear.yaml"))
    found = bottleneck(result.outcome.results)
    assert found is not None
    assert (found.station, found.share, found.replications) == ("GRIND", 1.0, 6)
    assert ideal_load_pick(GEAR) == "FURNACE"
    grind = result.summary()["stations"]["GRIND"]
    assert_within(grind["setup_rate"], 30 / 70, 0.03)
    # The line runs at the grinder's pace: one part per 70 s on average.
    assert_within(result.summary()["line"]["throughput_per_hour"], 3600 / 70, 0.03)


CATALOG = """\
retrofits:
  - id: smed
    changes: {stations.GRIND.setup.time: 20s}
"""


def test_compare_reads_oee_at_the_simulated_bottleneck(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin compare` names the bottleneck, how sure it is, and heads the OEE column with it."""
    text = GEAR.replace("replications: 6", "replications: 3") + CATALOG
    path = scenario_file(text, "gear.yaml")
    out = tmp_path / "cmp.json"
    result = CliRunner().invoke(
        app,
        ["compare", str(path), "--plan", "smed", "--json", str(out), "--workers", "1"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["bottleneck"] == {
        "station": "GRIND",
        "share": 1.0,
        "replications": 3,
        "runner_up": None,
        "runner_up_share": 0.0,
    }
    assert "Δ OEE GRIND" in result.stdout
    assert "bottleneck in 3/3 baseline replications" in result.stdout
    # Quicker changeovers raise the grinder's OEE index: its setup time was lost time.
    assert doc["plans"]["smed"]["differences"]["oee"]["mean"] > 0.05


def flags(*necks: str) -> dict[int, dict[str, Any]]:
    """Replications whose bottleneck flags name the given stations, one per replication."""
    return {
        r: {"stations": {sid: {"bottleneck": float(sid == neck)} for sid in ("A", "B", "C")}}
        for r, neck in enumerate(necks)
    }


def test_bottleneck_over_replications_says_how_sure() -> None:
    """The most frequent bottleneck, its share of replications and the runner-up's."""
    found = bottleneck(flags("B", "A", "B", "B"))
    assert found is not None
    assert found.as_dict() == {
        "station": "B",
        "share": 0.75,
        "replications": 4,
        "runner_up": "A",
        "runner_up_share": 0.25,
    }
    tie = bottleneck(flags("C", "B", "B", "C"))
    assert tie is not None and (tie.station, tie.runner_up) == ("B", "C")  # first in line
    assert bottleneck({}) is None
