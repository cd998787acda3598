"""The pacing driver: fast, scaled real time, paused and stepped, lock-step; never a
different result than the batch run. Wall time is a fake clock that only polls advance."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import simpy

from models.kpi import collect, sample
from models.station import STATES
from scenarios.builder import build
from scenarios.catalog import load_scenario
from scenarios.experiment import run_replication
from scenarios.schema import Scenario
from twin.errors import UsageError
from twin.pacing import Pacer

LINE = """\
name: paced
seed: 4
horizon: 1h
arrivals:
  interarrival: {dist: exponential, mean: 50s}
stations:
  - id: M1
    process_time: {dist: exponential, mean: 40s}
    failures: {mtbf: {dist: exponential, mean: 20min}, mttr: 2min}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 30s, cv: 0.5}
"""


class Wall:
    """A wall clock that moves only when the pacer waits (polls)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.polls = 0

    def __call__(self) -> float:
        return self.now

    def poll(self, timeout: float) -> None:
        self.polls += 1
        self.now += timeout


def paced(
    scenario: Callable[[str], Scenario], **options: object
) -> tuple[Pacer, Wall, Callable[[], dict[str, object]]]:
    model = scenario(LINE)
    env = simpy.Environment()
    line = build(env, model, 0)
    wall = Wall()
    pacer = Pacer(env, model.horizon, wall.poll, wall=wall, **options)  # type: ignore[arg-type]
    return pacer, wall, lambda: collect(line, env.now)


def test_a_fast_run_is_the_batch_run(scenario: Callable[[str], Scenario]) -> None:
    """As fast as possible, event by event, with polls in between: the same KPIs to the bit."""
    pacer, wall, kpis = paced(scenario, fast_poll_every=20)
    pacer.run()
    assert pacer.env.now == 3600.0
    assert kpis() == run_replication(scenario(LINE), 0)
    assert wall.polls > 5 and wall.now == 0.0  # polled, never waited


def test_a_fast_run_counts_the_batch_runs_events_and_its_limits_leave_none(
    scenario: Callable[[str], Scenario],
) -> None:
    """A fast run's bursts end at polls, samples and the horizon by a limit event of their
    own in SimPy's queue: the run counts exactly the batch run's events, and whenever it
    polls or samples, the queue holds the model's events only."""
    env = simpy.Environment()
    build(env, scenario(LINE), 0)
    batch = 0
    while env.peek() < 3600.0:
        env.step()
        batch += 1

    pacer, wall, kpis = paced(scenario, fast_poll_every=20, sample_every=250.0)
    seen: list[set[int]] = []

    def look(_: object) -> None:
        seen.append({priority for _, priority, _, _ in pacer.env._queue})

    pacer.poll = lambda timeout: (wall.poll(timeout), look(None))  # type: ignore[assignment]
    pacer.sample = look
    pacer.run()
    assert pacer.events == batch > 100
    assert len(seen) > batch // 20 and all(s <= {0, 1} for s in seen)
    assert pacer.env.now == 3600.0 and kpis() == run_replication(scenario(LINE), 0)


def test_scaled_real_time_takes_horizon_over_speed(scenario: Callable[[str], Scenario]) -> None:
    """At 60 simulated seconds per second, one simulated hour takes a minute of wall time."""
    pacer, wall, kpis = paced(scenario, speed=60.0)
    pacer.run()
    assert wall.now == pytest.approx(60.0, abs=0.06)
    assert pacer.lag < 0.05
    assert kpis() == run_replication(scenario(LINE), 0)


def test_real_time_starts_when_the_run_does(scenario: Callable[[str], Scenario]) -> None:
    """Wall time spent between making the pacer and running it (a server waiting for its
    subscribers) is not simulated in a rush: the hour still takes a minute from then on."""
    pacer, wall, _ = paced(scenario, speed=60.0)
    wall.now = 100.0
    first: list[tuple[float, float]] = []
    poll = pacer.poll

    def note(timeout: float) -> None:
        if not first:
            first.append((pacer.env.now, wall.now))
        poll(timeout)

    pacer.poll = note
    pacer.run()
    assert first[0][0] < 60.0  # it waited for the first minute's events, not ran through them
    assert wall.now == pytest.approx(160.0, abs=0.06)


def test_a_run_that_cannot_keep_up_reports_its_lag(scenario: Callable[[str], Scenario]) -> None:
    """When every event is already late, the pacer runs them at once and says how late;
    it still polls now and then (a command or a snapshot request is heard)."""
    pacer, wall, kpis = paced(scenario, speed=1000.0, fast_poll_every=20)
    ticks = iter(range(10**9))
    pacer.wall = lambda: float(next(ticks))  # a second of wall time per look at the clock
    pacer.run()
    assert pacer.lag > 10.0
    assert wall.polls >= pacer.events // 20 > 5
    assert kpis() == run_replication(scenario(LINE), 0)


def test_changing_the_speed_reanchors_the_clock(scenario: Callable[[str], Scenario]) -> None:
    """About ten minutes at 10x, then the rest at 100x: the wall time adds up piecewise."""
    pacer, wall, _ = paced(scenario, speed=10.0)
    poll = wall.poll
    switched: list[tuple[float, float]] = []

    def poll_and_speed_up(timeout: float) -> None:
        poll(timeout)
        if pacer.env.now >= 600.0 and pacer.speed == 10.0:
            pacer.set_speed(100.0)
            switched.append((pacer.env.now, wall.now))

    pacer.poll = poll_and_speed_up
    pacer.run()
    (sim_at, wall_at) = switched[0]
    assert wall_at == pytest.approx(sim_at / 10.0, abs=0.06)
    assert wall.now == pytest.approx(wall_at + (3600.0 - sim_at) / 100.0, abs=0.06)


def test_pause_step_and_resume(scenario: Callable[[str], Scenario]) -> None:
    """Paused, the clock holds; a step runs one event or a duration; resumed, it finishes
    with the same results as if never paused."""
    pacer, wall, kpis = paced(scenario)
    env = pacer.env
    seen: list[float] = []
    script = iter(["step", "step", "step600", "resume"])

    def poll(timeout: float) -> None:
        wall.poll(timeout)
        seen.append(env.now)
        if len(seen) % 3 == 0:  # the trainer acts every third poll
            action = next(script, None)
            if action == "step":
                pacer.step(None)
            elif action == "step600":
                pacer.step(600.0)
            elif action == "resume":
                pacer.resume()

    pacer.poll = poll
    pacer.pause()
    first = env.peek()
    pacer.run()
    assert seen[:3] == [0.0, 0.0, 0.0]  # held at 0 while paused
    assert seen[3] == first  # one step: exactly the next event
    assert seen[9] == pytest.approx(seen[6] + 600.0)
    assert env.now == 3600.0
    assert kpis() == run_replication(scenario(LINE), 0)


def test_lockstep_waits_at_every_interval(scenario: Callable[[str], Scenario]) -> None:
    """With lock-step 5 min, the barrier is met at 5, 10, ..., 55 min, the clock exactly
    there each time; results equal the batch run."""
    met: list[float] = []
    pacer, _, kpis = paced(scenario, lockstep=300.0)

    def check(t: float) -> None:
        assert pacer.env.now == t
        met.append(t)

    pacer.barrier = check
    pacer.run()
    assert met == [300.0 * k for k in range(1, 12)]
    assert kpis() == run_replication(scenario(LINE), 0)


def test_stop_ends_the_run_early(scenario: Callable[[str], Scenario]) -> None:
    """A stop heard at a poll ends the run where it is."""
    pacer, _, _ = paced(scenario, fast_poll_every=10)
    pacer.poll = lambda timeout: pacer.stop() if pacer.env.now > 900 else None
    pacer.run()
    assert 900 < pacer.env.now < 3600


@pytest.mark.parametrize("speed", [0.0, -1.0, float("inf"), float("nan")])
def test_a_bad_speed_is_refused(scenario: Callable[[str], Scenario], speed: float) -> None:
    """The speed of the clock is a positive, finite factor."""
    with pytest.raises(UsageError, match="speed must be a positive number"):
        paced(scenario, speed=speed)
    pacer, _, _ = paced(scenario)
    with pytest.raises(UsageError, match="speed must be a positive number"):
        pacer.set_speed(speed)


def test_the_clock_moves_on_between_events(scenario: Callable[[str], Scenario]) -> None:
    """In real time, the pacer's clock reads the wall-derived simulated time between two
    events (never past the next one); the environment's clock stays at the last event."""
    pacer, wall, _ = paced(scenario, speed=60.0)
    readings: list[tuple[float, float, float]] = []

    def poll(timeout: float) -> None:
        wall.poll(timeout)
        readings.append((pacer.env.now, pacer.clock(), pacer.env.peek()))

    pacer.poll = poll
    pacer.run()
    assert all(now <= clock <= nxt for now, clock, nxt in readings)
    assert sum(clock > now for now, clock, _ in readings) > len(readings) / 2
    fast, _, _ = paced(scenario)
    assert fast.clock() == fast.env.now  # as fast as possible: the last event's time


def _sampled(scenario: Callable[[str], Scenario], t: float) -> str:
    """The KPI sample of a batch run stopped at ``t`` (as text: NaN equals NaN)."""
    env = simpy.Environment()
    line = build(env, scenario(LINE), 0)
    env.run(until=t)
    return repr(sample(line, t))


def test_samples_fall_between_events_and_change_nothing(
    scenario: Callable[[str], Scenario],
) -> None:
    """Sampling every 5 min (as the live bridge's kpi channel does) gives a sample at 5, 10,
    ..., 60 min equal to a batch run's state stopped there, and the run's results unchanged."""
    env = simpy.Environment()
    line = build(env, scenario(LINE), 0)
    taken: list[tuple[float, str]] = []

    def take(t: float) -> None:
        assert env.now <= t and (t < env.peek() or t == 3600.0)
        taken.append((t, repr(sample(line, t))))

    pacer = Pacer(env, 3600.0, lambda _: None, sample_every=300.0, sample=take)
    pacer.run()
    assert [t for t, _ in taken] == [300.0 * k for k in range(1, 13)]
    for t, text in taken[::4]:
        assert text == _sampled(scenario, t)
    assert collect(line, env.now) == run_replication(scenario(LINE), 0)


def test_samples_come_on_time_in_real_time(scenario: Callable[[str], Scenario]) -> None:
    """At 60x, the sample at simulated t is taken at wall time t/60, even when no event
    falls near it."""
    pacer, wall, _ = paced(scenario, speed=60.0, sample_every=120.0)
    when: list[tuple[float, float]] = []
    pacer.sample = lambda t: when.append((t, wall.now))
    pacer.run()
    assert len(when) == 30
    for t, at in when:
        assert at == pytest.approx(t / 60.0, abs=0.06)


def test_a_sample_gives_each_station_the_figures_of_the_results() -> None:
    """A sample at the horizon gives each station the availability, OEE index and share of
    each state that ``collect`` gives, to the bit: on the gear line (shifts, operators,
    setups, failures, a batch furnace, rework), with planned maintenance and a held
    station, and on the demo's first hours (before the warm-up ends: all NaN)."""
    from test_gear_line import GEAR

    from scenarios.commands import Door
    from scenarios.loader import loads

    model = loads(GEAR, "gear.yaml")
    env = simpy.Environment()
    line = build(env, model, 0)
    env.run(until=model.horizon / 2)
    door = Door(line)
    machine = next(iter(line.stations.values())).machines[0].scope
    for i, (action, target, params) in enumerate(
        [("maintain", machine, {"duration": 3600}), ("hold", "GRIND", {})]
    ):
        command = {"cmd_id": str(i), "action": action, "target": target, "params": params}
        assert door.submit(command, "trainer").ok
    env.run(until=model.horizon)
    taken = sample(line, model.horizon)["stations"]
    results = collect(line, model.horizon)["stations"]
    assert set(taken) == set(results)
    for sid, figures in results.items():
        expected = {
            "availability": figures["availability"],
            "oee_index": figures["oee_index"],
            **figures["states"],
        }
        assert repr(taken[sid]) == repr(expected), sid
    held = [sid for sid, figures in results.items() if figures["states"]["held"] > 0]
    maintained = [sid for sid, figures in results.items() if figures["states"]["maintenance"] > 0]
    assert held == ["GRIND"] and maintained
    demo = load_scenario("demo")
    env = simpy.Environment()
    line = build(env, demo, 0)
    env.run(until=600.0)
    assert demo.warmup > 600.0
    early = sample(line, 600.0)["stations"]
    assert all(math.isnan(v) for figures in early.values() for v in figures.values())
    assert all(
        list(figures) == ["availability", "oee_index", *STATES] for figures in early.values()
    )
