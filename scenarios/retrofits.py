"""Retrofits as patches over a scenario, and "1+N" upgrade plans built from them.

A change maps a dotted path to a new value or an operation. The first part of a path is a
top-level field; inside a list of identified items (``stations``, ``products``) the next part
is an item id or ``*`` (every item that has the rest of the path). ``{scale: k}`` multiplies
a number, a duration or every time parameter of a distribution (so its mean scales by k).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.loader import validate
from scenarios.schema import Retrofit, Scenario
from twin.durations import parse_duration
from twin.errors import Problem, ScenarioError, UsageError

# More default plans than this are refused: their combinations would never finish running.
MAX_DEFAULT_PLANS = 256

# Parameters of a distribution that are times (and scale with it); the others are shapes.
_TIME_PARAMS = ("value", "mean", "sd", "low", "mode", "high", "scale", "values")


class PatchError(ValueError):
    """A change that cannot be applied; the caller adds which retrofit it belongs to."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class Plan:
    """An upgrade plan: a set of retrofits applied together (empty = the baseline)."""

    retrofits: tuple[str, ...]

    @property
    def name(self) -> str:
        return "+".join(self.retrofits) if self.retrofits else "baseline"

    def __str__(self) -> str:
        return self.name


BASELINE = Plan(())


def _scale(value: Any, k: float, where: str) -> Any:
    if isinstance(value, bool):
        raise PatchError(f"cannot scale {value!r}")
    if isinstance(value, int | float | str):
        try:
            return parse_duration(value) * k
        except ValueError as exc:
            raise PatchError(f"cannot scale {value!r}: {exc}") from None
    if isinstance(value, dict) and "dist" in value:
        out = dict(value)
        for param in _TIME_PARAMS:
            if param in out:
                inner = out[param]
                out[param] = (
                    [_scale(v, k, where) for v in inner]
                    if isinstance(inner, list)
                    else _scale(inner, k, where)
                )
        return out
    raise PatchError(f"cannot scale {value!r} (not a number, duration or distribution)")


def _new_value(current: Any, change: Any, where: str) -> Any:
    if _is_scale(change):
        k = change["scale"]
        if isinstance(k, bool) or not isinstance(k, int | float) or k < 0:
            raise PatchError(f"scale must be a non-negative number, got {k!r}")
        return _scale(current, float(k), where)
    return copy.deepcopy(change)


def _targets(node: Any, parts: list[str], done: list[str]) -> Iterable[tuple[Any, str | int]]:
    """(container, key) pairs that a path names; raises PatchError where it names nothing."""
    head, rest = parts[0], parts[1:]
    where = ".".join(done) or "the scenario"
    if isinstance(node, list):
        items = [(i, item) for i, item in enumerate(node) if isinstance(item, dict)]
        chosen = [(i, it) for i, it in items if head == "*" or it.get("id") == head]
        if not chosen:
            ids = ", ".join(str(it.get("id")) for _, it in items)
            raise PatchError(f"{where} has no item {head!r} (ids: {ids})")
        if not rest:
            raise PatchError(f"path ends at an item of {where}; name a field of it")
        found = False
        for i, item in chosen:
            try:
                yield from _targets(item, rest, [*done, str(item.get("id", i))])
                found = True
            except PatchError:
                if head != "*":
                    raise
        if not found:
            raise PatchError(f"no item of {where} has {'.'.join(rest)!r}")
        return
    if not isinstance(node, dict) or head not in node:
        raise PatchError(f"{where} has no field {head!r}")
    if rest:
        yield from _targets(node[head], rest, [*done, head])
    else:
        yield node, head


def patch(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of scenario ``data`` (plain mappings) with ``changes`` applied."""
    out = copy.deepcopy(data)
    for path, change in changes.items():
        parts = path.split(".")
        try:
            if not all(parts):
                raise PatchError(f"{path!r} is not a dotted path")
            targets = list(_targets(out, parts, []))
            if _is_scale(change) and "*" in parts:
                # A wildcard scales the items that have a value; unset (unlimited) ones stay.
                targets = [(c, k) for c, k in targets if c[k] is not None]
                if not targets:
                    raise PatchError("no item has a value to scale")
            for container, key in targets:
                container[key] = _new_value(container[key], change, path)
        except PatchError as exc:
            raise PatchError(exc.message, path) from None
    return out


def _is_scale(change: Any) -> bool:
    return isinstance(change, dict) and set(change) == {"scale"}


def apply(scenario: Scenario, plan: Plan) -> Scenario:
    """The scenario with every retrofit of ``plan`` applied, in catalog order, validated."""
    if not plan.retrofits:
        return scenario
    catalog = {r.id: r for r in scenario.retrofits}
    data = scenario.model_dump(mode="json")
    for rid in [r.id for r in scenario.retrofits if r.id in plan.retrofits]:
        try:
            data = patch(data, catalog[rid].changes)
        except PatchError as exc:
            raise ScenarioError(f"retrofit {rid!r}", [Problem("changes", str(exc))]) from None
    return validate(data, f"{scenario.name} with plan {plan.name}")


def check(scenario: Scenario, plan: Plan) -> None:
    """Raise a clear error if ``plan`` names unknown retrofits or lacks what they require."""
    catalog = {r.id: r for r in scenario.retrofits}
    for rid in plan.retrofits:
        if rid not in catalog:
            known = ", ".join(catalog) or "none"
            raise ScenarioError(
                f"plan {plan.name}", [Problem("", f"unknown retrofit {rid!r}; known: {known}")]
            )
        missing = [req for req in catalog[rid].requires if req not in plan.retrofits]
        if missing:
            raise ScenarioError(
                f"plan {plan.name}",
                [Problem("", f"retrofit {rid!r} requires {', '.join(missing)}, not in the plan")],
            )


def parse_plan(scenario: Scenario, text: str) -> Plan:
    """``"platform+predictive_maintenance"`` -> a checked Plan in catalog order."""
    names = [n.strip() for n in text.split("+") if n.strip()]
    if not names:
        raise UsageError(f"option --plan: {text!r} names no retrofit; write e.g. a+b")
    order = [r.id for r in scenario.retrofits]
    plan = Plan(tuple(sorted(set(names), key=lambda n: order.index(n) if n in order else -1)))
    check(scenario, plan)
    return plan


def feasible(retrofits: Sequence[Retrofit], chosen: Iterable[str]) -> bool:
    chosen = set(chosen)
    by_id = {r.id: r for r in retrofits}
    return all(set(by_id[c].requires) <= chosen for c in chosen)


def default_plans(scenario: Scenario, max_n: int | None = None) -> list[Plan]:
    """The core with every feasible subset of the other retrofits, up to ``max_n`` of them.

    Without a core, every feasible non-empty subset up to ``max_n`` retrofits.
    """
    catalog = scenario.retrofits
    cores = [r.id for r in catalog if r.core]
    others = [r.id for r in catalog if not r.core]
    limit = len(others) if max_n is None else max_n
    count = sum(math.comb(len(others), n) for n in range(min(limit, len(others)) + 1))
    if count > MAX_DEFAULT_PLANS:
        raise UsageError(
            f"{len(others)} retrofits make {count} default plans, more than {MAX_DEFAULT_PLANS}: "
            "name the plans with --plan, or limit them with --max-n"
        )
    plans: list[Plan] = []
    for n in range(0, min(limit, len(others)) + 1):
        for combo in itertools.combinations(others, n):
            chosen = [*cores, *combo]
            if chosen and feasible(catalog, chosen):
                plans.append(Plan(tuple(r.id for r in catalog if r.id in chosen)))
    return plans


def check_catalog(
    scenario: Scenario,
    lines: dict[tuple[str | int, ...], int] | None = None,
    source: str = "<scenario>",
) -> None:
    """Apply each retrofit (after what it requires) once, so a bad change fails at load time,
    named by its retrofit, its path and its line."""
    by_id = {r.id: r for r in scenario.retrofits}
    base = scenario.model_dump(mode="json")

    def closure(rid: str) -> list[str]:
        out: list[str] = []
        for req in by_id[rid].requires:
            out += [x for x in closure(req) if x not in out]
        return [*out, rid] if rid not in out else out

    problems: list[Problem] = []
    for i, retrofit in enumerate(scenario.retrofits):
        before = len(problems)
        data = base
        for rid in closure(retrofit.id)[:-1]:
            try:
                data = patch(data, by_id[rid].changes)
            except PatchError:
                data = base  # reported under its own retrofit
        for path, change in retrofit.changes.items():
            where = f"retrofits[{retrofit.id}].changes.{path}"
            line = (lines or {}).get(("retrofits", i, "changes", path))
            try:
                data = patch(data, {path: change})
            except PatchError as exc:
                problems.append(Problem(where, exc.message, line))
        if len(problems) > before:
            continue
        try:
            validate(data, source)
        except ScenarioError as exc:
            for p in exc.problems:
                at_fault = _change_at_fault(retrofit, p.field)
                key = ("retrofits", i, "changes", at_fault) if at_fault else ("retrofits", i)
                line = (lines or {}).get(key, (lines or {}).get(("retrofits", i)))
                problems.append(
                    Problem(
                        f"retrofits[{retrofit.id}]", f"makes {p.field} invalid: {p.message}", line
                    )
                )
    if problems:
        raise ScenarioError(source, problems)


def _change_at_fault(retrofit: Retrofit, field: str) -> str | None:
    """The change whose path leads to (or contains) ``field``, e.g. ``stations[M1].servers``."""
    parts = re.findall(r"[^.\[\]]+", field)
    best: str | None = None
    for path in retrofit.changes:
        steps = path.split(".")
        n = min(len(steps), len(parts))
        matches = all(s in ("*", f) for s, f in zip(steps[:n], parts[:n], strict=True))
        if matches and (best is None or len(steps) > len(best.split("."))):
            best = path
    return best
