"""--warmup auto: MSER-5 finds a known transient, and the commands use what it finds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lines import invoke

from scenarios.loader import loads
from scenarios.warmup import detect, mser, wip_series
from twin.durations import parse_duration

# M1 feeds M2 faster than M2 works: the 50 places before M2 fill at 0.2 parts/s, so the WIP
# climbs for about 250 s and then stays near 52 (M1 blocked, the buffer full, M2 busy).
FILL = """\
name: filling line
seed: 2
horizon: 5000
replications: 2
stations:
  - id: M1
    process_time: {{dist: {dist}: 1}}
  - id: M2
    input_buffer: 50
    process_time: {{dist: {dist}: 1.25}}
"""
CHOSEN = re.compile(r"warm-up chosen by MSER-5: (\S+)")


@pytest.mark.parametrize("seed", range(5))
def test_mser_finds_the_end_of_a_linear_transient(seed: int) -> None:
    """A series that falls from 20 to 0 over 400 steps, then noise: MSER cuts near 400."""
    rng = np.random.default_rng(seed)
    t = np.arange(2000)
    series = np.where(t < 400, 20 * (1 - t / 400), 0.0) + rng.normal(0, 1, t.size)
    cut = mser(series)
    assert 330 <= cut <= 470, cut
    assert cut % 5 == 0


@pytest.mark.parametrize("seed", range(5))
def test_mser_finds_an_exponential_transient(seed: int) -> None:
    """10 exp(-t/100) over unit noise fades into the noise after about 230 steps."""
    rng = np.random.default_rng(seed)
    t = np.arange(2000)
    cut = mser(5 + 10 * np.exp(-t / 100) + rng.normal(0, 1, t.size))
    assert 150 <= cut <= 450, cut


@pytest.mark.parametrize("seed", range(5))
def test_mser_keeps_a_stationary_series(seed: int) -> None:
    """A series without a transient loses at most a few batches."""
    rng = np.random.default_rng(seed)
    assert mser(rng.normal(5, 1, 2000)) <= 50


def test_mser_limits() -> None:
    """Short series are kept whole; a series that never settles loses at most half."""
    assert mser(np.arange(19.0)) == 0
    assert mser(np.ones(100)) == 0
    cut = mser(np.arange(1000.0))
    assert cut <= 500
    assert mser(np.r_[np.full(100, 9.0), np.zeros(900)]) == 100


def test_wip_series_samples_the_line(scenario: Callable[[str], Any]) -> None:
    """The WIP series starts empty, fills at about 0.2 parts/s and levels off near 52."""
    s = scenario(FILL.format(dist="constant, value"))
    series = wip_series(s, 0, samples=500)
    assert series.shape == (500,)
    step = s.horizon / 500
    assert series[int(100 / step)] == pytest.approx(0.2 * 100, abs=3)
    assert np.all(series >= 0)
    assert np.all((series[int(300 / step) : -1] >= 50) & (series[int(300 / step) : -1] <= 53))


def test_wip_series_last_sample_is_taken(scenario: Callable[[str], Any]) -> None:
    """The last sample of the WIP series is a real observation, not the initial zero."""
    s = scenario(FILL.format(dist="constant, value"))
    assert 50 <= wip_series(s, 0, samples=500)[-1] <= 53


@pytest.mark.parametrize(
    ("dist", "low", "high"), [("constant, value", 225, 300), ("exponential, mean", 200, 700)]
)
def test_detect_finds_the_fill_time(
    dist: str, low: float, high: float, scenario: Callable[[str], Any]
) -> None:
    """detect() picks a warm-up close to the 250 s the line takes to fill."""
    s = scenario(FILL.format(dist=dist))
    warmup = detect(s)
    assert low <= warmup <= high, warmup
    assert warmup <= s.horizon / 2


def test_run_with_warmup_auto_prints_and_uses_it(
    scenario_file: Callable[..., Path], tmp_path: Path
) -> None:
    """`twin run FILE --warmup auto` prints the warm-up MSER-5 chose and runs with it."""
    text = FILL.format(dist="exponential, mean")
    path = scenario_file(text, "fill.yaml")
    out = tmp_path / "results.json"
    result = invoke("run", str(path), "--warmup", "auto", "--json", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    match = CHOSEN.search(result.stderr)
    assert match is not None, result.stderr
    doc = json.loads(out.read_text())
    warmup = doc["scenario"]["warmup"]
    assert warmup == detect(loads(text))
    assert parse_duration(match.group(1)) == pytest.approx(warmup, rel=1e-5)
    assert 200 <= warmup <= 700
    assert doc["replications"] == 2


def test_run_bundled_mm1_with_warmup_auto(tmp_path: Path) -> None:
    """`twin run mm1 --warmup auto` chooses a warm-up within the first half and runs."""
    out = tmp_path / "mm1.json"
    result = invoke(
        "run", "mm1", "--warmup", "AUTO", "--horizon", "5000", "--reps", "2",
        "--json", str(out), "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    match = CHOSEN.search(result.stderr)
    assert match is not None, result.stderr
    doc = json.loads(out.read_text())
    assert 0 <= doc["scenario"]["warmup"] <= 2500
    assert parse_duration(match.group(1)) == pytest.approx(doc["scenario"]["warmup"], rel=1e-5)
    assert doc["complete"] is True


def test_compare_with_warmup_auto(scenario_file: Callable[..., Path], tmp_path: Path) -> None:
    """`twin compare --warmup auto` uses the chosen warm-up for every plan."""
    text = FILL.format(dist="exponential, mean") + (
        "retrofits:\n  - id: faster\n    changes: {stations.M2.process_time: {scale: 0.9}}\n"
    )
    path = scenario_file(text, "fill.yaml")
    out = tmp_path / "run"
    result = invoke("compare", str(path), "--warmup", "auto", "--out", str(out), "--workers", "1")
    assert result.exit_code == 0, result.output
    assert CHOSEN.search(result.stderr) is not None
    doc = json.loads((out / "comparison.json").read_text())
    assert doc["scenario"]["warmup"] == detect(loads(text))
    assert doc["plans"]["faster"]["differences"]["throughput_per_hour"]["mean"] > 0
