"""Orders released in lots, setups by a from -> to table, scrap per product: against theory,
Little's law and part conservation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_theory import assert_agrees, simulate

from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.errors import ScenarioError


def lots_line(lot: int, setup: str, process: str, horizon: str = "200h") -> str:
    """One saturated station, lots of ``lot`` A then ``lot`` B, setups by ``setup``."""
    return f"""\
name: lots
seed: 13
horizon: {horizon}
warmup: 2h
replications: 8
products:
  - {{id: A, route: [M]}}
  - {{id: B, route: [M]}}
orders:
  sequence:
    - {{product: A, lot: {lot}}}
    - {{product: B, lot: {lot}}}
stations:
  - id: M
    input_buffer: 2
    process_time: {process}
    setup:
      time: {setup}
"""


@pytest.mark.parametrize(
    ("lot", "process"),
    [(10, "{dist: exponential, mean: 60s}"), (40, "{dist: gamma, mean: 45s, cv: 0.5}")],
)
def test_lots_alternating_two_products_give_l_over_lp_plus_s(
    scenario: Callable[[str], Scenario], lot: int, process: str
) -> None:
    """A saturated station, lots of L alternating, process mean p, a setup S at each lot
    change: throughput L / (L p + S) parts per second."""
    setup = "{A: {B: 20min}, B: {A: 20min}}"
    model = scenario(lots_line(lot, setup, process))
    p = 60.0 if lot == 10 else 45.0
    theory = lot / (lot * p + 1200.0) * 3600.0
    result = simulate(model)
    assert_agrees(result["line"]["throughput_per_hour"], theory, rel=0.03)
    # A setup between every two lots: its share of the time is S / (L p + S).
    assert_agrees(result["stations"]["M"]["states"]["setup"], 1200.0 / (lot * p + 1200.0), 0.05)


def test_a_pair_missing_from_the_table_needs_no_setup(
    scenario: Callable[[str], Scenario],
) -> None:
    """Only A -> B costs a setup: throughput 2L / (2 L p + S)."""
    model = scenario(lots_line(10, "{A: {B: 20min}}", "{dist: exponential, mean: 60s}"))
    theory = 20 / (20 * 60.0 + 1200.0) * 3600.0
    assert_agrees(simulate(model)["line"]["throughput_per_hour"], theory, rel=0.03)


def test_one_distribution_still_sets_up_on_every_product_change(
    scenario: Callable[[str], Scenario],
) -> None:
    """`setup.time` as one distribution: the same as a table with both pairs."""
    one = simulate(scenario(lots_line(10, "20min", "{dist: exponential, mean: 60s}")))
    table = simulate(
        scenario(lots_line(10, "{A: {B: 20min}, B: {A: 20min}}", "{dist: exponential, mean: 60s}"))
    )
    assert one["line"]["throughput_per_hour"]["mean"] == pytest.approx(
        table["line"]["throughput_per_hour"]["mean"], rel=0.02
    )


ARRIVING = """\
name: lots arriving
seed: 5
horizon: 400h
warmup: 10h
replications: 6
products:
  - {id: A, route: [M1, M2]}
  - {id: B, route: [M1, M2]}
orders:
  sequence:
    - {product: A, lot: 6}
    - {product: B, lot: 3}
  interarrival: {dist: exponential, mean: 20min}
stations:
  - id: M1
    process_time: {A: {dist: exponential, mean: 60s}, B: {dist: exponential, mean: 90s}}
    scrap_rate: {A: 0.02, B: 0.10}
  - id: M2
    process_time: {dist: exponential, mean: 50s}
"""


def test_whole_lots_arrive_and_the_line_keeps_littles_law(
    scenario: Callable[[str], Scenario],
) -> None:
    """Lots of 6 and 3 every 20 min on average: 13.5 parts/h enter; scrap 2% of A, 10% of B
    (A is 2/3 of the parts): good output 13.5 (1 - 0.0467); WIP = throughput x lead time
    (Little's law, good and scrapped parts alike); every part accounted for."""
    model = scenario(ARRIVING)
    result = simulate(model)
    line = result["line"]
    scrap = (6 * 0.02 + 3 * 0.10) / 9
    assert_agrees(line["throughput_per_hour"], 13.5 * (1 - scrap), rel=0.04)
    assert_agrees(line["scrap_rate"], scrap, rel=0.12)
    for kpis in (run_replication(model, r) for r in range(2)):
        parts = kpis["line"]["parts"]
        assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]


def test_littles_law_with_lots(scenario: Callable[[str], Scenario]) -> None:
    """L = lambda W on the lot line without scrap (every part that enters leaves good)."""
    model = scenario(ARRIVING.replace("    scrap_rate: {A: 0.02, B: 0.10}\n", ""))
    line = simulate(model)["line"]
    wip = line["wip"]["mean"]
    lam = line["throughput_per_hour"]["mean"] / 3600.0
    w = line["lead_time_s"]["mean"]["mean"]
    assert wip == pytest.approx(lam * w, rel=0.05)


def test_orders_are_checked(scenario: Callable[[str], Scenario]) -> None:
    """Unknown products in orders, setup tables and scrap tables, and arrivals beside
    orders, are refused naming the field."""
    cases: list[tuple[str, str, str]] = [
        ("product: B, lot: 3", "product: C, lot: 3", "orders.sequence[1].product"),
        ("scrap_rate: {A: 0.02, B: 0.10}", "scrap_rate: {A: 0.02, Z: 0.10}", "scrap_rate.Z"),
        ("lot: 6", "lot: 0", "orders.sequence[0].lot"),
    ]
    for old, new, where in cases:
        with pytest.raises(ScenarioError, match=where.replace("[", r"\[").replace("]", r"\]")):
            scenario(ARRIVING.replace(old, new))
    both = ARRIVING.replace("orders:", "arrivals: {interarrival: 1min}\norders:")
    with pytest.raises(ScenarioError, match="either 'arrivals' or 'orders'"):
        scenario(both)
    table = lots_line(5, "{A: {Q: 1min}}", "60s")
    with pytest.raises(ScenarioError, match=r"setup.time.A.Q.*unknown product 'Q'"):
        scenario(table)


def test_a_mix_command_is_refused_on_an_order_line(scenario: Callable[[str], Scenario]) -> None:
    """Orders fix what enters: the mix command says so instead of changing it."""
    import simpy

    from scenarios.builder import build
    from scenarios.commands import Door

    env = simpy.Environment()
    door = Door(build(env, scenario(ARRIVING), 0))
    command: dict[str, Any] = {
        "cmd_id": "m",
        "action": "mix",
        "target": "arrivals",
        "params": {"mix": {"A": 1.0}},
    }
    reply = door.submit(command, "trainer")
    assert not reply.ok and reply.code == "not_allowed_in_state"
    assert "orders in their sequence" in reply.reasons[0]


def test_ideal_cycles_per_product_set_effectiveness(scenario: Callable[[str], Scenario]) -> None:
    """Effectiveness = ideal time / busy time: with ideal cycles of half the process time
    for A and the full time for B, half the parts each, it is (0.5 + 1) / 2 = 0.75."""
    text = lots_line(10, "{A: {B: 1min}}", "60s").replace(
        "    input_buffer: 2\n", "    input_buffer: 2\n    ideal_cycle: {A: 30s, B: 60s}\n"
    )
    kpis = run_replication(scenario(text), 0)
    assert abs(kpis["stations"]["M"]["effectiveness"] - 0.75) < 0.01


def test_a_batch_min_above_its_size_is_refused(scenario: Callable[[str], Scenario]) -> None:
    text = lots_line(10, "1min", "60s").replace(
        "    input_buffer: 2\n", "    input_buffer: 2\n    batch: {size: 4, min: 5}\n"
    )
    with pytest.raises(ScenarioError, match=r"batch.*min \(5\) must not exceed size \(4\)"):
        scenario(text)
