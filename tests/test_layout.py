"""The floor plan: a layout section checked like every field, and an automatic layout in
which parts flow left to right."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios.layout import layout
from scenarios.schema import Scenario
from twin.errors import ScenarioError

LINE = """\
name: cells
stations:
  - id: SAW
    process_time: 30s
  - id: MILL
    servers: 3
    input_buffer: 5
    process_time: 80s
  - id: DRILL
    input_buffer: 2
    process_time: 25s
  - id: PACK
    input_buffer: 0
    process_time: 20s
"""

SHARED = """\
name: two products
products:
  - id: A
    route: [SAW, MILL, PACK]
  - id: B
    route: [LATHE, PACK]
arrivals:
  interarrival: 1min
  mix: {A: 0.5, B: 0.5}
stations:
  - id: SAW
    process_time: 30s
  - id: MILL
    process_time: 30s
  - id: LATHE
    process_time: 30s
  - id: PACK
    process_time: 20s
"""


def test_a_route_runs_left_to_right(scenario: Callable[[str], Scenario]) -> None:
    """Each station of the route stands to the right of the one before, rack upstream."""
    places = layout(scenario(LINE)).places
    assert [p.id for p in places] == ["SAW", "MILL", "DRILL", "PACK"]
    xs = [min(x for x, _ in p.machines) for p in places]
    assert xs == sorted(xs) and len(set(xs)) == 4
    for before, after in itertools.pairwise(places):
        assert after.rack is None or after.rack[0] > max(x for x, _ in before.machines)
        assert after.rack is None or after.rack[0] < min(x for x, _ in after.machines)


def test_parallel_machines_stand_side_by_side(scenario: Callable[[str], Scenario]) -> None:
    """The three mills share one x and stand apart across the flow."""
    mill = layout(scenario(LINE)).place("MILL")
    assert mill.machine_scopes() == ["MILL.0", "MILL.1", "MILL.2"]
    assert len({x for x, _ in mill.machines}) == 1
    ys = sorted(y for _, y in mill.machines)
    assert ys[1] - ys[0] >= 2.0 and ys[2] - ys[1] >= 2.0


def test_racks_follow_the_buffers(scenario: Callable[[str], Scenario]) -> None:
    """A station without an input buffer has no rack; the others show their capacity, and
    a saturated entry with no buffer given gets none (as the builder builds it)."""
    places = {p.id: p for p in layout(scenario(LINE)).places}
    assert places["PACK"].rack is None and places["SAW"].rack is None
    assert (places["MILL"].capacity, places["DRILL"].capacity) == (5, 2)


def test_a_shared_station_is_placed_once(scenario: Callable[[str], Scenario]) -> None:
    """PACK ends both routes: one place, right of both routes' stations."""
    places = layout(scenario(SHARED)).places
    assert [p.id for p in places].count("PACK") == 1
    x = {p.id: p.x for p in places}
    assert x["SAW"] < x["MILL"] < x["PACK"] and x["LATHE"] < x["PACK"]
    assert x["LATHE"] == x["MILL"] or x["LATHE"] == x["SAW"]
    assert len({(p.x, p.y) for p in places}) == 4  # no two stations on one spot


def test_a_given_place_and_rotation_are_kept(scenario: Callable[[str], Scenario]) -> None:
    """A placed station stands where the file says; turned 90 degrees, its machines line
    up along x and its rack stands upstream along -y."""
    text = LINE + "layout:\n  MILL: {x: 40, y: -10, rotation: 90}\n"
    mill = layout(scenario(text)).place("MILL")
    assert (mill.x, mill.y, mill.rotation) == (40, -10, 90)
    assert {round(y, 6) for _, y in mill.machines} == {-10.0}
    assert mill.rack is not None
    assert mill.rack[0] == pytest.approx(40) and mill.rack[1] < -10


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ("  GRIND: {x: 1, y: 2}", "layout.GRIND:", "stations are: SAW, MILL, DRILL, PACK"),
        ("  MILL: {x: 1}", "layout.MILL.y:", "required"),
        ("  MILL: {x: 1, y: 2, rotation: 400}", "layout.MILL.rotation:", "360"),
        ("  MILL: {x: 1e9, y: 2}", "layout.MILL.x:", "1000"),
        ("  MILL: {x: 1, y: 2, z: 3}", "layout.MILL.z:", "unknown field"),
    ],
)
def test_a_bad_layout_names_its_field(
    scenario: Callable[[str], Scenario], section: str, field: str, words: str
) -> None:
    """Each problem names the layout field at fault and what would be right."""
    with pytest.raises(ScenarioError) as caught:
        scenario(LINE + "layout:\n" + section + "\n")
    message = str(caught.value)
    assert field in message and words in message, message


def test_the_documented_u_cell_stands_where_its_file_says() -> None:
    """docs/examples/u-cell.yaml: the stations stand at their given places, and the
    route comes back along the upper row (right to left)."""
    from scenarios.loader import load

    path = Path(__file__).parents[1] / "docs" / "examples" / "u-cell.yaml"
    model = load(path)
    assert model.layout is not None
    places = {p.id: p for p in layout(model).places}
    for sid, given in model.layout.items():
        assert (places[sid].x, places[sid].y, places[sid].rotation) == (
            given.x,
            given.y,
            given.rotation,
        )
    assert places["DEBURR"].x > places["PACK"].x and places["DEBURR"].y > places["MILL"].y
