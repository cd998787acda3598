"""The simulator against queueing theory: M/M/1, M/M/c, Jackson tandems, blocking, failures.

Each check compares a simulated mean over replications with an exact result, twice: the
theoretical value must lie within three 95% confidence half-widths of the simulated mean
(or within ``floor`` of it, for figures so precise that a tiny known effect, such as the
parts still inside at the horizon or the 0.5% accuracy of the quantile sketch, would
otherwise dominate), and within a fixed relative bound ``rel``, so a check keeps its teeth
even if a run turns out noisier than planned. The bounds were sized from ten different
seeds: the largest error seen is about half of either bound. Seeds are fixed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from scenarios.catalog import load_scenario
from scenarios.experiment import run, run_replication
from scenarios.loader import loads
from scenarios.overrides import override
from scenarios.schema import Scenario

Figure = dict[str, Any]


def simulate(scenario: Scenario, **changes: Any) -> dict[str, Any]:
    """The results document of ``scenario`` with top-level fields replaced."""
    return run(override(scenario, changes)).summary()


def assert_agrees(fig: Figure, theory: float, rel: float, floor: float = 0.005) -> None:
    """The simulated mean matches ``theory`` within its confidence interval and ``rel``."""
    mean, half = fig["mean"], fig["ci95_halfwidth"]
    error = abs(mean - theory)
    found = f"simulated {mean:.6g} ± {half:.3g}, theory {theory:.6g}"
    assert error <= max(3.0 * half, floor * abs(theory)), f"{found}: outside 3 CI half-widths"
    assert error <= rel * abs(theory), f"{found}: off by more than {rel:.1%}"


def assert_flows(model: Scenario, rate: float, little: float = 0.03) -> dict[str, Any]:
    """A line with arrivals: all that enters leaves (``rate`` parts/h); WIP = throughput x
    lead time (Little's law) within ``little``; replication 0 accounts for every part and
    each station's state shares add up to 1. Returns replication 0's figures."""
    line = simulate(model)["line"]
    assert_agrees(line["throughput_per_hour"], rate, rel=0.03)
    wip = line["wip"]["mean"]
    flow = line["throughput_per_hour"]["mean"] / 3600.0 * line["lead_time_s"]["mean"]["mean"]
    assert abs(wip - flow) <= little * wip, (wip, flow)
    kpis = run_replication(model, 0)
    parts = kpis["line"]["parts"]
    assert parts["created"] == parts["finished"] + parts["scrapped"] + parts["in_system"]
    for st in kpis["stations"].values():
        assert sum(st["states"].values()) == pytest.approx(1.0)
    return kpis


def mm1_text(interarrival: float, service: float) -> str:
    return f"""
name: mm1-light
seed: 7
horizon: 100000
warmup: 1000
replications: 10
arrivals:
  interarrival: {{dist: exponential, mean: {interarrival}}}
stations:
  - id: M1
    process_time: {{dist: exponential, mean: {service}}}
"""


# -- M/M/1 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "horizon", "lam", "mu", "rel"),
    [
        pytest.param(lambda: load_scenario("mm1"), 5e4, 0.8, 1.0, 0.06, id="bundled-rho0.8"),
        pytest.param(
            lambda: loads(mm1_text(2.0, 1.0), "mm1.yaml"), 1e5, 0.5, 1.0, 0.02, id="rho0.5"
        ),
    ],
)
def test_mm1_time_in_system_queue_and_wip(
    make: Callable[[], Scenario], horizon: float, lam: float, mu: float, rel: float
) -> None:
    """M/M/1: W = 1/(mu - lambda), Wq = rho/(mu - lambda), L = rho/(1 - rho), U = rho."""
    doc = simulate(make(), horizon=horizon)
    rho = lam / mu
    line, m1 = doc["line"], doc["stations"]["M1"]
    assert_agrees(line["lead_time_s"]["mean"], 1.0 / (mu - lam), rel)
    assert_agrees(m1["wait_s"], rho / (mu - lam), rel * 1.5)
    assert_agrees(line["wip"], rho / (1.0 - rho), rel)
    assert_agrees(m1["availability"], rho, 0.01)
    assert_agrees(line["throughput_per_hour"], lam * 3600.0, 0.01)


def test_mm1_time_in_system_is_exponential() -> None:
    """M/M/1 time in system is exponential with rate mu - lambda: check its median and p95."""
    doc = simulate(loads(mm1_text(2.0, 1.0), "mm1.yaml"), horizon=50000, replications=8)
    lead = doc["line"]["lead_time_s"]
    assert_agrees(lead["p50"], math.log(2.0) / 0.5, 0.025, floor=0.01)
    assert_agrees(lead["p95"], math.log(20.0) / 0.5, 0.04, floor=0.01)


# -- M/M/c ------------------------------------------------------------------------------


def erlang_c(c: int, lam: float, mu: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1.0 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_formula() -> None:
    """The reference itself: C(1, a) = rho, and the textbook value C(2, 1.6) = 0.711."""
    assert erlang_c(1, 0.8, 1.0) == pytest.approx(0.8)
    assert erlang_c(2, 1.6, 1.0) == pytest.approx(0.7111, abs=1e-4)


MMC2 = """
name: mm2
seed: 11
horizon: 40000
warmup: 500
replications: 10
arrivals:
  interarrival: {dist: exponential, mean: 0.8333333333333334}
stations:
  - id: M1
    servers: 2
    process_time: {dist: exponential, mean: 1.0}
"""


@pytest.mark.parametrize(
    ("make", "horizon", "c", "lam", "mu", "rel"),
    [
        pytest.param(lambda: load_scenario("mmc"), 25e3, 3, 2.0, 1 / 1.2, 0.04, id="bundled-M/M/3"),
        pytest.param(lambda: loads(MMC2, "mm2.yaml"), 4e4, 2, 1.2, 1.0, 0.02, id="M/M/2-rho0.6"),
    ],
)
def test_mmc_waiting_time_erlang_c(
    make: Callable[[], Scenario], horizon: float, c: int, lam: float, mu: float, rel: float
) -> None:
    """M/M/c: Wq = C(c, lambda/mu) / (c mu - lambda), W = Wq + 1/mu, U = lambda/(c mu)."""
    doc = simulate(make(), horizon=horizon)
    wq = erlang_c(c, lam, mu) / (c * mu - lam)
    assert_agrees(doc["stations"]["M1"]["wait_s"], wq, rel * 2)
    assert_agrees(doc["line"]["lead_time_s"]["mean"], wq + 1.0 / mu, rel)
    assert_agrees(doc["line"]["wip"], lam * (wq + 1.0 / mu), rel)
    assert_agrees(doc["stations"]["M1"]["availability"], lam / (c * mu), 0.01)


# -- Jackson tandem -----------------------------------------------------------------------


def test_jackson_tandem_sojourn() -> None:
    """Poisson arrivals through exponential stations in series: W = sum 1/(mu_i - lambda)."""
    scenario = load_scenario("tandem")
    doc = simulate(scenario, horizon=50000)
    lam = 1.0 / scenario.arrivals.interarrival.expected  # type: ignore[union-attr]
    total = 0.0
    for spec in scenario.stations:
        mu = 1.0 / spec.process_time.expected  # type: ignore[union-attr]
        station = doc["stations"][spec.id]
        assert_agrees(station["wait_s"], (lam / mu) / (mu - lam), 0.07)
        assert_agrees(station["availability"], lam / mu, 0.01)
        total += 1.0 / (mu - lam)
    assert total == pytest.approx(11.0)
    assert_agrees(doc["line"]["lead_time_s"]["mean"], total, 0.04)
    assert_agrees(doc["line"]["wip"], lam * total, 0.04)


# -- saturated two-station line with blocking ---------------------------------------------


def two_station_chain(mean1: float, mean2: float, buffer: int) -> dict[str, float]:
    """Exact figures of a saturated two-machine exponential line, from its Markov chain.

    M1 always has a raw part; M2 holds up to ``buffer + 1`` parts (its buffer and machine).
    State k = 0 .. B+1 counts the parts at M2 while M1 works; state B+2 means M2 is full
    and M1 holds a finished part, blocked. M1 finishes at rate mu1 (moving the part to M2,
    or blocking when M2 is full); M2 finishes at rate mu2, and in the blocked state its
    departure lets M1's part in and M1 starts a new one. Solve pi Q = 0, sum pi = 1.
    """
    mu1, mu2 = 1.0 / mean1, 1.0 / mean2
    full = buffer + 1
    n = full + 2
    q = np.zeros((n, n))
    for k in range(full + 1):
        q[k, k + 1] += mu1
        if k >= 1:
            q[k, k - 1] += mu2
    q[full + 1, full] += mu2
    q -= np.diag(q.sum(axis=1))
    a = np.vstack([q.T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    parts_at_m2 = np.minimum(np.arange(n), full)
    throughput = mu2 * (1.0 - pi[0])
    wip = float(pi @ (1 + parts_at_m2))  # M1 always holds one part, working or blocked
    return {
        "throughput": throughput,
        "wip": wip,
        "lead_time": wip / throughput,
        "m1_blocked": float(pi[-1]),
        "m2_starved": float(pi[0]),
    }


@pytest.mark.parametrize(("buffer", "expected"), [(0, 2 / 3), (1, 3 / 4), (5, 7 / 8)])
def test_two_station_chain_known_values(buffer: int, expected: float) -> None:
    """Equal exponential machines: throughput (B+2)/(B+3) parts/s, as in the literature."""
    assert two_station_chain(1.0, 1.0, buffer)["throughput"] == pytest.approx(expected)


def two_station(buffer: int, mean1: float = 1.0) -> Scenario:
    base = load_scenario("two-station")
    stations = [s.model_dump(mode="json") for s in base.stations]
    stations[0]["process_time"]["mean"] = mean1
    stations[1]["input_buffer"] = buffer
    return override(base, {"stations": stations, "horizon": 20000, "replications": 10})


@pytest.mark.parametrize(
    ("buffer", "mean1"),
    [(0, 1.0), (1, 1.0), (5, 1.0), (2, 1.25)],
    ids=["B0", "B1", "B5", "B2-slow-M1"],
)
def test_two_station_line_matches_markov_chain(buffer: int, mean1: float) -> None:
    """Throughput, WIP, lead time, blocking and starving equal the Markov chain's."""
    exact = two_station_chain(mean1, 1.0, buffer)
    doc = simulate(two_station(buffer, mean1))
    line, m1, m2 = doc["line"], doc["stations"]["M1"], doc["stations"]["M2"]
    assert_agrees(line["throughput_per_hour"], exact["throughput"] * 3600.0, 0.01, floor=0.003)
    assert_agrees(line["wip"], exact["wip"], 0.015, floor=0.003)
    assert_agrees(line["lead_time_s"]["mean"], exact["lead_time"], 0.015, floor=0.003)
    assert_agrees(m1["states"]["blocked"], exact["m1_blocked"], 0.05)
    assert_agrees(m2["states"]["starved"], exact["m2_starved"], 0.05)
    assert m1["states"]["starved"]["mean"] == 0.0  # a saturated entry never starves


# -- an unreliable machine -----------------------------------------------------------------

UNRELIABLE = """
name: unreliable-{basis}
seed: 5
horizon: 10d
warmup: 1h
replications: 8
{arrivals}
stations:
  - id: M1
    process_time: {process}
    failures:
      mtbf: {{dist: exponential, mean: 9min}}
      mttr: {{dist: exponential, mean: 1min}}
      basis: {basis}
"""


def unreliable(basis: str, process: str, arrivals: str = "") -> Scenario:
    text = UNRELIABLE.format(basis=basis, process=process, arrivals=arrivals)
    return loads(text, "unreliable.yaml")


def test_bundled_unreliable_machine() -> None:
    """The bundled scenario: availability 0.9 and 54 parts/h, as its description says."""
    doc = simulate(load_scenario("unreliable"), horizon=15 * 86400.0)
    m1 = doc["stations"]["M1"]
    assert_agrees(m1["availability"], 0.9, 0.005)
    assert_agrees(doc["line"]["throughput_per_hour"], 54.0, 0.005)
    assert_agrees(m1["states"]["down"], 0.1, 0.03)


@pytest.mark.parametrize("basis", ["calendar", "operating"])
@pytest.mark.parametrize("process", ["60s", "{dist: exponential, mean: 60s}"], ids=["const", "exp"])
def test_saturated_unreliable_machine(basis: str, process: str) -> None:
    """Saturated: A = MTBF/(MTBF+MTTR) on either basis; throughput = A / cycle.

    Calendar basis: up and down times alternate whatever the machine does, an alternating
    renewal process, so the down fraction is MTTR/(MTBF+MTTR). Operating basis: failures
    accrue only while the machine processes, but a saturated last machine is never starved
    or blocked, so it is always processing when up: the same alternation, the same result.
    A failure only suspends the part in process (its remaining work resumes), so the machine
    turns out A/cycle parts per unit time, and fails once per MTBF+MTTR of calendar time.
    """
    doc = simulate(unreliable(basis, process))
    m1 = doc["stations"]["M1"]
    availability = 540.0 / (540.0 + 60.0)
    assert_agrees(m1["availability"], availability, 0.01)
    assert_agrees(m1["technical_efficiency"], availability, 0.01)
    assert_agrees(doc["line"]["throughput_per_hour"], availability * 60.0, 0.01)
    span = 10 * 86400.0 - 3600.0
    assert_agrees(m1["failures"], span / 600.0, 0.04)


@pytest.mark.parametrize("process", ["60s", "{dist: exponential, mean: 60s}"], ids=["const", "exp"])
def test_unreliable_machine_with_arrivals(process: str) -> None:
    """Fed below capacity, the two bases differ, and each matches its own theory.

    Parts arrive at lambda = 1/100 s; the mean cycle is S = 60 s, so in the long run the
    machine processes a fraction b = lambda S = 0.6 of the time (a failure suspends work,
    it never adds or removes any). Calendar basis: breakdowns come whatever the machine
    does, so the down fraction is still MTTR/(MTBF+MTTR) = 0.1 and A = 0.9. Operating
    basis: breakdowns come once per MTBF of processing time, each lasting MTTR on average,
    so the down fraction is b x MTTR/MTBF = 0.6/9; the failure count is b x span / MTBF.
    Availability (ISO 22400-2: APT / PBT) is b on both bases: idle time lowers it too.
    Technical efficiency APT / (APT + down) is b / (b + 0.1) on the calendar basis and
    MTBF / (MTBF + MTTR) = 0.9 on the operating basis.
    """
    arrivals = "arrivals:\n  interarrival: {dist: exponential, mean: 100s}"
    span = 10 * 86400.0 - 3600.0
    b = 60.0 / 100.0
    cal = simulate(unreliable("calendar", process, arrivals))["stations"]["M1"]
    assert_agrees(cal["states"]["down"], 0.1, 0.05)
    assert_agrees(cal["availability"], b, 0.025)
    assert_agrees(cal["technical_efficiency"], b / (b + 0.1), 0.02)
    assert_agrees(cal["failures"], span / 600.0, 0.04)
    op = simulate(unreliable("operating", process, arrivals))["stations"]["M1"]
    assert_agrees(op["states"]["down"], b * 60.0 / 540.0, 0.06)
    assert_agrees(op["availability"], b, 0.025)
    assert_agrees(op["technical_efficiency"], 0.9, 0.01)
    assert_agrees(op["failures"], b * span / 540.0, 0.06)
