"""twin report: one self-contained HTML page and its PNG charts, for a run, a comparison
and a sweep; what runs record over time for it, which changes none of their figures."""

from __future__ import annotations

import json
import math
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import simpy
from matplotlib.image import imread

from models.kpi import sample
from scenarios.builder import build
from scenarios.experiment import record_replication, run, run_replication
from scenarios.history import SERIES
from scenarios.loader import loads
from tests.lines import invoke, priced_pair
from tests.test_gear_line import GEAR
from twin.colours import STATE_COLOURS
from twin.report import ALL_STATES as STATE_COLUMNS
from twin.sampling import sample_times
from twin.stats import Tally
from viz import chartdata, charts
from viz.rundir import read

LINE = """\
name: report line
seed: 11
horizon: 3h
warmup: 20min
replications: 3
arrivals:
  interarrival: {dist: exponential, mean: 70s}
stations:
  - id: M1
    process_time: {dist: exponential, mean: 50s}
    failures: {mtbf: {dist: exponential, mean: 40min}, mttr: {dist: exponential, mean: 4min}}
  - id: M2
    input_buffer: 2
    process_time: {dist: gamma, mean: 45s, cv: 0.5}
    scrap_rate: 0.05
"""

PAIR = priced_pair(
    name="report pair",
    seed=5,
    horizon="3h",
    replications=3,
    margin=20,
    retrofits="""\
  - id: platform
    core: true
    capex: 10000
    changes: {stations.*.failures.mttr: {scale: 0.5}}
  - id: buffer
    capex: 2000
    changes: {stations.M2.input_buffer: 4}
""",
)

BASE_CHARTS = ("states", "wip-throughput", "lead-time", "oee-losses")
EXTRA = {"run": (), "compare": ("deltas", "contributions", "economics"), "sweep": ("response",)}


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run, a comparison and a sweep kept with --out, each with its report written."""
    root = tmp_path_factory.mktemp("kept")
    (root / "line.yaml").write_text(LINE, encoding="utf-8")
    (root / "pair.yaml").write_text(PAIR, encoding="utf-8")
    commands = {
        "run": ["run", str(root / "line.yaml"), "--workers", "1"],
        "compare": ["compare", str(root / "pair.yaml"), "--plan", "platform+buffer"],
        "sweep": ["sweep", str(root / "line.yaml"), "--param", "stations.M2.input_buffer=1,3"],
    }
    dirs = {}
    for kind, args in commands.items():
        out = root / kind
        extra = [] if kind == "run" else ["--workers", "1"]
        result = invoke(*args, *extra, "--out", str(out))
        assert result.exit_code == 0, result.output
        report = invoke("report", str(out))
        assert report.exit_code == 0, report.output
        assert f"report written to {out / 'report.html'}" in report.stderr
        dirs[kind] = out
    return dirs


class _Refs(HTMLParser):
    """Every src/href of a page, the ids of its figures and its images' sources."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster"):
                self.refs.append((tag, name, value or ""))
            if name == "id" and value:
                self.ids.append(value)
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag


@pytest.mark.parametrize("kind", ["run", "compare", "sweep"])
def test_the_page_needs_nothing_outside_itself(kept: dict[str, Path], kind: str) -> None:
    """No link, script or image fetched from anywhere: every image is a data URI, and each
    chart of its kind is there by its id, with the KPI tables."""
    text = (kept[kind] / "report.html").read_text(encoding="utf-8")
    page = _Refs()
    page.feed(text)
    assert all(value.startswith("data:image/png;base64,") for _, _, value in page.refs)
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "url(" not in text and "@import" not in text
    wanted = [f"chart-{c}" for c in (*BASE_CHARTS, *EXTRA[kind])]
    assert [i for i in page.ids if i.startswith("chart-")] == wanted
    assert len(page.images) == len(wanted)
    table = {"run": "table-line", "compare": "table-comparison", "sweep": "table-sweep"}[kind]
    assert table in page.ids


@pytest.mark.parametrize("kind", ["run", "compare", "sweep"])
def test_the_charts_are_real_pictures_beside_the_page(kept: dict[str, Path], kind: str) -> None:
    """Each chart is a PNG next to the page, not blank: many colours, most of them not white."""
    for name in (*BASE_CHARTS, *EXTRA[kind]):
        path = kept[kind] / f"report-{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        pixels = imread(path)[..., :3]
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400, name
        colours = np.unique(pixels.reshape(-1, 3), axis=0)
        assert len(colours) > 20, name
        assert (pixels < 0.95).any(axis=2).mean() > 0.05, name


def test_the_state_bars_are_the_runs_shares(kept: dict[str, Path]) -> None:
    """The stacked bars of each station add up to 100% and are the shares of results.json,
    each in the state's colour."""
    doc = json.loads((kept["run"] / "results.json").read_text(encoding="utf-8"))
    shares = chartdata.state_shares(read(kept["run"]).models[0].doc)
    fig = charts.states([("run", shares)])
    bars = fig.axes[0].patches
    assert len(bars) == len(STATE_COLUMNS) * 2
    stations = ["M2", "M1"]  # drawn bottom up, so M1 is on top
    for i, state in enumerate(STATE_COLUMNS):
        for j, sid in enumerate(stations):
            bar = bars[i * 2 + j]
            assert bar.get_width() == pytest.approx(
                100 * doc["stations"][sid]["states"][state]["mean"]
            )
            assert bar.get_facecolor()[:3] == pytest.approx(_rgb(STATE_COLOURS[state]))
    for sid in stations:
        assert sum(shares[sid].values()) == pytest.approx(1.0, abs=1e-12)


@pytest.fixture(scope="module")
def gear_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gear line (shifts, operators, an AGV, a conveyor) kept by `twin run --out` over
    three days, two replications, with its report written."""
    root = tmp_path_factory.mktemp("gear")
    text = GEAR.replace("horizon: 7d", "horizon: 3d").replace("replications: 5", "replications: 2")
    (root / "gear.yaml").write_text(text, encoding="utf-8")
    out = root / "run"
    result = invoke("run", str(root / "gear.yaml"), "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = invoke("report", str(out))
    assert report.exit_code == 0, report.output
    return out


class _Rows(HTMLParser):
    """The cells of each row of one table of a page, as text."""

    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident, self.inside, self.rows = ident, False, list[list[str]]()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.inside = dict(attrs).get("id") == self.ident
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_the_report_of_a_line_with_operators_and_agvs_shows_them_at_work(
    gear_run: Path,
) -> None:
    """The page's line table has a row for the AGVs and one per operator pool: their mean
    share of time at work ± its CI, in %, as results.json has them."""
    doc = json.loads((gear_run / "results.json").read_text(encoding="utf-8"))
    page = _Rows("table-line")
    page.feed((gear_run / "report.html").read_text(encoding="utf-8"))
    rows = dict(row for row in page.rows if len(row) == 2)
    line = doc["line"]
    wanted = {"AGVs at work (%)": line["agv_utilisation"]}
    wanted |= {
        f"operators {pool} at work (%)": line["operators"][pool] for pool in ("setter", "loader")
    }
    for name, figure in wanted.items():
        mean, half = 100 * figure["mean"], 100 * figure["ci95_halfwidth"]
        assert 0 < mean < 100, name
        assert rows[name] == f"{mean:.1f} ± {half:.1f}", name


def test_the_state_bars_show_time_off_shift_and_waiting_for_operators(
    gear_run: Path, kept: dict[str, Path]
) -> None:
    """The stations on shifts have a dotted grey 'off' bar as long as their share off shift,
    the furnace none; HOB a brown 'operator' bar; both are in the legend, which a line
    without calendar or operators leaves out."""
    doc = read(gear_run).models[0].doc
    shares = chartdata.state_shares(doc)
    fig = charts.states([("run", shares)])
    names = list(shares)[::-1]
    bars = fig.axes[0].patches
    for state in ("off", "operator"):
        i = list(STATE_COLUMNS).index(state)
        drawn = {sid: bars[i * len(names) + j] for j, sid in enumerate(names)}
        for sid, bar in drawn.items():
            assert bar.get_width() == pytest.approx(
                100 * doc["stations"][sid]["states"][state]["mean"]
            )
            assert bar.get_facecolor()[:3] == pytest.approx(_rgb(STATE_COLOURS[state]))
        assert drawn["HOB"].get_width() > 0
        if state == "off":
            assert drawn["HT"].get_width() == 0 and drawn["GRIND"].get_width() > 30
            assert drawn["GRIND"].get_hatch() == "..."
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[-2:] == ["off", "operator"]
    plain = charts.states([("run", chartdata.state_shares(read(kept["run"]).models[0].doc))])
    legend = [t.get_text() for t in plain.legends[0].get_texts()]
    assert "off" not in legend and "operator" not in legend and "held" in legend


READINGS = ("sent", "lost", "arrived", "late")
ALARMS = ("true", "false", "missed")


def _smart_text() -> str:
    """docs/examples/smart.yaml over seven days, one of warm-up, two replications: long
    enough for the grinder's first alarm and maintenance."""
    text = (Path(__file__).parents[1] / "docs" / "examples" / "smart.yaml").read_text("utf-8")
    for old, new in (
        ("horizon: 30d", "horizon: 7d"),
        ("warmup: 2d", "warmup: 1d"),
        ("replications: 5", "replications: 2"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def smart_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shortened smart example kept by `twin run --out`, its report written; and what
    `twin run` printed."""
    root = tmp_path_factory.mktemp("smart")
    text = _smart_text()
    (root / "smart.yaml").write_text(text, encoding="utf-8")
    out = root / "run"
    result = invoke("run", str(root / "smart.yaml"), "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = invoke("report", str(out))
    assert report.exit_code == 0, report.output
    return out, result.stdout


def _figure(figure: dict[str, float], digits: int, scale: float = 1.0) -> str:
    return f"{scale * figure['mean']:,.{digits}f} ± {scale * figure['ci95_halfwidth']:,.{digits}f}"


def test_the_report_of_a_smart_line_has_its_section(smart_run: tuple[Path, str]) -> None:
    """The page's smart-workshop section has the networking rate, the readings, the alarms
    and the crew's time at work, and each station that broke down, wears or was maintained
    with its breakdowns, those by wear and its planned maintenances, all as results.json
    has them; the stations with none of these are left out."""
    out, _ = smart_run
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    text = (out / "report.html").read_text(encoding="utf-8")
    page = _Refs()
    page.feed(text)
    assert {"smart", "table-smart", "table-upkeep"} <= set(page.ids)
    line = doc["line"]
    rows = _table(text, "table-smart")
    wanted = {"machines networked (%)": _figure(line["networking_rate"], 1, 100)}
    wanted |= {f"readings {k}": _figure(line["readings"][k], 1) for k in READINGS}
    wanted |= {f"alarms {k}": _figure(line["alarms"][k], 2) for k in ALARMS}
    wanted["crew maint at work (%)"] = _figure(line["crews"]["maint"], 1, 100)
    assert rows == [["KPI", "value"], *([k, v] for k, v in wanted.items())]
    assert line["networking_rate"]["mean"] == 0.75  # OD, ID and INSPECT of four machines
    stations = doc["stations"]
    assert _table(text, "table-upkeep") == [
        ["station", "breakdowns", "by wear", "planned maintenances"],
        [
            "OD",
            _figure(stations["OD"]["failures"], 2),
            _figure(stations["OD"]["wear_breakdowns"], 2),
            _figure(stations["OD"]["maintenances"], 2),
        ],
        [
            "ID",
            _figure(stations["ID"]["failures"], 2),
            "-",
            _figure(stations["ID"]["maintenances"], 2),
        ],
    ]
    assert stations["OD"]["maintenances"]["mean"] > 0 and stations["ID"]["failures"]["mean"] > 0
    assert line["readings"]["sent"]["mean"] > 0 and line["crews"]["maint"]["mean"] > 0
    # Its defects and inspection: the first-pass yield and escapes among the line's KPIs,
    # and a table of what each station made defective and the inspection found.
    kpis = dict(row for row in _table(text, "table-line") if len(row) == 2)
    assert kpis["escapes (per million shipped)"] == _figure(line["escapes_ppm"], 0)
    assert kpis["first-pass yield (%)"] == _figure(line["first_pass_yield"], 2, 100)
    quality = _table(text, "table-quality")
    assert quality[0] == ["station", "defects made", "detected", "false rejects", "passed"]
    assert [row[0] for row in quality[1:]] == ["OD", "ID", "INSPECT"]
    assert quality[3][2] == _figure(stations["INSPECT"]["detected"], 1)


def test_a_smart_comparison_shows_the_section_of_each_line(tmp_path: Path) -> None:
    """A comparison of the smart line with a second technician has the section for the
    baseline and for the plan, each under its name: the crew's time at work as each line's
    stored replications give it (halved, near enough, with two technicians)."""
    text = _smart_text() + (
        "retrofits:\n  - {id: crew2, core: true, capex: 1000, changes: {crews.maint.count: 2}}\n"
    )
    (tmp_path / "smart.yaml").write_text(text, encoding="utf-8")
    kept = tmp_path / "compare"
    result = invoke("compare", str(tmp_path / "smart.yaml"), "--workers", "1", "--out", str(kept))
    assert result.exit_code == 0, result.output
    assert invoke("report", str(kept)).exit_code == 0
    page = (kept / "report.html").read_text(encoding="utf-8")
    section = page[page.index('<section id="smart">') : page.index('<section id="states">')]
    assert "<h3>baseline</h3>" in section and "<h3>best plan: crew2</h3>" in section
    crews = [
        dict(row for row in _table(page, f"table-smart-{i}") if len(row) == 2)[
            "crew maint at work (%)"
        ]
        for i in (0, 1)
    ]
    base, plan = (float(c.split(" ± ")[0]) for c in crews)
    assert base > 0 and plan == pytest.approx(base / 2, rel=0.2)
    assert "table-upkeep-0" in section and "table-upkeep-1" in section


def _table(text: str, ident: str) -> list[list[str]]:
    page = _Rows(ident)
    page.feed(text)
    return page.rows


def test_a_plain_line_has_no_smart_section(kept: dict[str, Path], tmp_path: Path) -> None:
    """A line without the layer (M1 fails now and then) has no smart-workshop section,
    in its reports (run, comparison, sweep) nor in the terminal."""
    for kind in ("run", "compare", "sweep"):
        page = _Refs()
        page.feed((kept[kind] / "report.html").read_text(encoding="utf-8"))
        assert not {i for i in page.ids if "smart" in i or "upkeep" in i}, kind
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    result = invoke("run", str(path), "--reps", "2", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "breakdowns and planned maintenance" not in result.stdout
    assert "networked" not in result.stdout


def test_the_terminal_prints_the_smart_stations_upkeep(smart_run: tuple[Path, str]) -> None:
    """`twin run` of the smart line prints its stations' breakdowns and maintenances."""
    _, printed = smart_run
    assert "stations: breakdowns and planned maintenance" in printed
    table = printed[printed.index("stations: breakdowns and planned maintenance") :]
    assert [
        line.split()[1] for line in table.splitlines() if line.startswith(("│ OD", "│ ID"))
    ] == ["OD", "ID"]


def _rgb(code: str) -> tuple[float, ...]:
    return tuple(int(code[i : i + 2], 16) / 255 for i in (1, 3, 5))


def test_the_wip_over_time_averages_to_the_wip_kpi(kept: dict[str, Path]) -> None:
    """The WIP drawn per sampling interval, averaged over time, is the run's WIP KPI: per
    replication to rounding, and the drawn mean over replications likewise."""
    model = read(kept["run"]).models[0]
    doc = json.loads((kept["run"] / "results.json").read_text(encoding="utf-8"))
    wips = doc["line"]["wip"]["values"]
    for history, wip in zip(model.histories, wips, strict=True):
        starts, averages = chartdata.interval_wip(history)
        ends = np.asarray(history["t"])[np.asarray(history["t"]) > history["warmup_s"]]
        assert chartdata.time_average(starts, ends, averages) == pytest.approx(wip, rel=1e-9)
    # the level drawn at the last sample is the parts left in the line at the horizon
    ends = doc["line"]["parts"]["in_system"]["values"]
    assert [h["series"]["in_system"][-1] for h in model.histories] == ends
    data = chartdata.over_time(model.histories)
    fig = charts.over_time([("run", data, model.doc["line"])])
    drawn = fig.axes[0].patches[0]  # the interval means, a step patch
    values, edges = drawn.get_data()[:2]
    mean = chartdata.time_average(edges[:-1], edges[1:], values)
    assert mean == pytest.approx(doc["line"]["wip"]["mean"], rel=1e-9)


def test_the_oee_losses_add_up_to_the_planned_time(kept: dict[str, Path]) -> None:
    """OEE and its three losses make up each station's planned busy time, and the OEE part
    is the OEE index of results.json."""
    doc = read(kept["run"]).models[0].doc
    for sid, parts in chartdata.oee_losses(doc).items():
        assert sum(parts.values()) == pytest.approx(1.0, abs=1e-12)
        assert parts["oee"] == pytest.approx(doc["stations"][sid]["oee_index"]["mean"])
        assert parts["availability loss"] == pytest.approx(
            1 - doc["stations"][sid]["availability"]["mean"]
        )
    assert chartdata.oee_losses(doc)["M2"]["quality loss"] > 0  # M2 scraps 5%


def test_the_comparison_charts_show_the_documents_figures(kept: dict[str, Path]) -> None:
    """The deltas drawn are the paired differences of comparison.json, with their CIs."""
    run = read(kept["compare"])
    doc = run.doc
    assert [m.label for m in run.models] == ["baseline", "best plan: platform+buffer"]
    fig = charts.deltas(doc)
    first = fig.axes[0]
    diff = doc["plans"]["platform+buffer"]["differences"]["throughput_per_hour"]
    assert first.patches[0].get_width() == pytest.approx(diff["mean"])
    whisker = first.collections[0].get_segments()[0]
    assert whisker[1][0] - whisker[0][0] == pytest.approx(2 * diff["ci95_halfwidth"])
    assert set(doc["contributions"]) == {"platform", "buffer"}
    for model in run.models:
        assert len(model.histories) == 3
    shares = charts.contributions(doc).axes[0].patches
    drawn = {p.get_y() + p.get_height() / 2: p.get_width() for p in shares}
    expected = [share["throughput_per_hour"] for share in doc["contributions"].values()]
    assert [drawn[y] for y in sorted(drawn, reverse=True)] == pytest.approx(expected)
    npv = charts.economics(doc).axes[1].patches[0].get_width()
    assert npv == pytest.approx(doc["plans"]["platform+buffer"]["economics"]["npv"]["mean"])


def test_the_sweep_response_is_the_points_figures(kept: dict[str, Path]) -> None:
    """Each KPI drawn against the parameter is the mean of sweep.json at that value."""
    doc = read(kept["sweep"]).doc
    fig = charts.response(doc)
    points = {row["settings"]["stations.M2.input_buffer"]: row for row in doc["points"]}
    tp = fig.axes[0].lines[0]
    assert list(tp.get_xdata()) == [1.0, 3.0]
    assert list(tp.get_ydata()) == pytest.approx(
        [points[v]["throughput_per_hour"]["mean"] for v in (1, 3)]
    )
    wip = fig.axes[3].lines[0]
    assert list(wip.get_ydata()) == pytest.approx([points[v]["wip"]["mean"] for v in (1, 3)])


def test_the_lead_time_histogram_counts_every_part() -> None:
    """The histogram holds one count per lead time the line tallied, in its bin."""
    model = loads(LINE, "line.yaml")
    env = simpy.Environment()
    line = build(env, model, 0)
    env.run(until=model.horizon)
    hist = line.lead_time.histogram()
    assert sum(hist["counts"]) + hist["zeros"] == line.lead_time.count > 50
    lt = chartdata.lead_times([{"lead_time": hist}])
    centres = np.sqrt(lt.edges[:-1] * lt.edges[1:])
    assert float((centres * lt.counts).sum() / lt.total) == pytest.approx(
        line.lead_time.mean, rel=0.03
    )


def test_histogram_bins_hold_exactly_their_values() -> None:
    """A value lands in the bin whose bounds hold it (the bins are the sketch's, grouped)."""
    rng = np.random.default_rng(3)
    values = rng.lognormal(5, 1.5, 5000)
    tally = Tally()
    for v in values:
        tally.add(float(v))
    hist = tally.histogram()
    base = hist["base"]
    expected: dict[int, int] = {}
    for v in values:
        key = math.ceil(math.log(v) / math.log(base)) - 1
        expected[key] = expected.get(key, 0) + 1
    assert dict(zip(hist["keys"], hist["counts"], strict=True)) == expected
    assert base == pytest.approx(1.05, abs=0.002)


def test_recording_changes_no_figure_to_the_bit() -> None:
    """A recorded replication's KPIs equal an unrecorded one's to the bit, and so do the
    summaries of whole runs."""
    model = loads(LINE, "line.yaml")
    for rep in range(3):
        kpis, history = record_replication(model, rep)
        assert json.dumps(kpis, sort_keys=True) == json.dumps(
            run_replication(model, rep), sort_keys=True
        )
        assert history["t"][-1] == model.horizon
    recorded, plain = run(model, record=True), run(model)
    assert recorded.to_json() == plain.to_json()
    assert sorted(recorded.histories) == [0, 1, 2] and not plain.histories


def test_samples_are_the_state_between_events() -> None:
    """Each recorded sample equals the sample of a run stopped at that time."""
    model = loads(LINE, "line.yaml")
    _, history = record_replication(model, 1)
    assert history["t"] == sample_times(history["every_s"], model.horizon)
    for i in (0, 17, len(history["t"]) // 2, len(history["t"]) - 1):
        t = history["t"][i]
        env = simpy.Environment()
        line = build(env, model, 1)
        env.run(until=t)
        expected = sample(line, t)
        for name in SERIES:
            value = expected[name]
            got = history["series"][name][i]
            assert (got is None and math.isnan(value)) or got == value, (name, t)


def test_a_plain_run_keeps_no_history(tmp_path: Path) -> None:
    """Without --out nothing is recorded; with it, history.json sits beside results.json."""
    path = tmp_path / "line.yaml"
    path.write_text(LINE, encoding="utf-8")
    result = invoke("run", str(path), "--reps", "1", "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0
    assert not (tmp_path / "history.json").exists()
    assert invoke("run", str(path), "--reps", "1", "--out", str(tmp_path / "k")).exit_code == 0
    history = json.loads((tmp_path / "k" / "history.json").read_text(encoding="utf-8"))
    assert list(history["replications"]) == ["0"]


def test_the_store_keeps_histories(kept: dict[str, Path]) -> None:
    """Compare and sweep keep one history per stored replication."""
    for kind in ("compare", "sweep"):
        with sqlite3.connect(kept[kind] / "store.sqlite") as db:
            runs = db.execute("SELECT model, replication FROM replications").fetchall()
            kept_h = db.execute("SELECT model, replication FROM histories").fetchall()
        assert sorted(runs) == sorted(kept_h) and runs


def test_a_report_changes_nothing_in_the_store(kept: dict[str, Path]) -> None:
    """Writing a report reads the store and leaves it as it was, byte for byte."""
    store = kept["compare"] / "store.sqlite"
    before = store.read_bytes()
    assert invoke("report", str(kept["compare"])).exit_code == 0
    assert store.read_bytes() == before


def test_report_out_option(kept: dict[str, Path], tmp_path: Path) -> None:
    """--out puts the page elsewhere, with the charts beside it, named after it."""
    target = tmp_path / "pages" / "sweep.html"
    target.parent.mkdir()
    result = invoke("report", str(kept["sweep"]), "--out", str(target))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pages" / "sweep-response.png").exists()
    assert f"report written to {target}" in result.stderr


def _broken(tmp_path: Path, kept: dict[str, Path], case: str) -> tuple[Path, str]:
    """A directory broken in one way, and the file the error must name."""
    d = tmp_path / case
    if case == "missing":
        return d, str(d)
    if case == "a file":
        d.write_text("{}", encoding="utf-8")
        return d, str(d)
    d.mkdir()
    if case == "not a run":
        (d / "notes.txt").write_text("hello", encoding="utf-8")
        return d, str(d)
    if case == "corrupt results":
        (d / "results.json").write_text('{"scenario": {"name": "x"}, "line"', encoding="utf-8")
        return d, str(d / "results.json")
    if case == "foreign results":
        (d / "results.json").write_text('{"hello": 1}', encoding="utf-8")
        return d, str(d / "results.json")
    if case == "corrupt history":
        for name in ("results.json", "scenario.yaml"):
            (d / name).write_bytes((kept["run"] / name).read_bytes())
        (d / "history.json").write_text("[1, 2", encoding="utf-8")
        return d, str(d / "history.json")
    source = kept["compare"]
    (d / "comparison.json").write_bytes((source / "comparison.json").read_bytes())
    if case == "corrupt store":
        (d / "store.sqlite").write_bytes(b"this is not a database" * 100)
    return d, str(d / "store.sqlite")


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "a file",
        "not a run",
        "corrupt results",
        "foreign results",
        "corrupt history",
        "missing store",
        "corrupt store",
    ],
)
def test_bad_run_directories_are_refused_by_name(
    kept: dict[str, Path], tmp_path: Path, case: str
) -> None:
    """Exit 2, one clear error naming the file, no traceback, no page left behind."""
    directory, named = _broken(tmp_path, kept, case)
    result = invoke("report", str(directory))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    assert named in result.stderr
    assert not (directory / "report.html").exists()
