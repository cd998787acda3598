"""The bundled scenarios, found by name (``twin run demo``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from scenarios.loader import load, parse_yaml
from scenarios.schema import Scenario
from twin.errors import ScenarioError, UsageError


def bundled() -> dict[str, Path]:
    """Name -> file of every scenario shipped with the package."""
    # Not files("scenarios.bundled"): importing that package would shadow this function as
    # the attribute ``scenarios.bundled``.
    folder = resources.files("scenarios") / "bundled"
    files = sorted(Path(str(entry)) for entry in folder.iterdir() if str(entry).endswith(".yaml"))
    return {f.stem: f for f in files}


def describe(path: Path) -> str:
    """The first line of a bundled scenario's description (or its name)."""
    try:
        data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ScenarioError):
        return ""
    if not isinstance(data, dict):
        return ""
    text = str(data.get("description") or data.get("name") or "")
    return text.strip().splitlines()[0] if text.strip() else ""


def resolve(name_or_path: str) -> Path:
    """A path to a scenario file, or the file of the bundled scenario of that name (also
    when a folder of that name is in the way: a folder is never a scenario)."""
    path = Path(name_or_path)
    known = bundled()
    if path.exists() and not (path.is_dir() and name_or_path in known):
        return path
    if name_or_path in known:
        return known[name_or_path]
    raise UsageError(
        f"no scenario file {name_or_path!r} and no bundled scenario of that name; "
        f"bundled: {', '.join(known) or 'none'} (see `twin scenarios`)"
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Load a scenario file, or the bundled scenario of that name when no such file exists."""
    return load(resolve(name_or_path))
