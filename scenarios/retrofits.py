"""Retrofits as patches over a scenario, and "1+N" upgrade plans built from them.

A change maps a dotted path to a new value or an operation. The first part of a path is a
top-level field; inside a list of identified items (``stations``, ``products``) the next part
is an item id or ``*`` (every item that has the rest of the path). ``{scale: k}`` multiplies
a number, a duration or every time parameter of a distribution (so its mean scales by k).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from scenarios.schema import Retrofit, Scenario
from scenarios.validation import validate
from twin.durations import parse_duration
from twin.errors import Problem, ScenarioError, UsageError

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
    if isinstance(value, dict):  # a per-product table: each entry scales
        return {key: _scale(v, k, where) for key, v in value.items()}
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


def topological(retrofits: Sequence[Retrofit]) -> list[str]:
    """Retrofit ids with every requirement before what requires it (catalog order otherwise).

    Iterative, so a long or dense ``requires`` graph costs time linear in its edges.
    """
    by_id = {r.id: r for r in retrofits}
    order: list[str] = []
    placed: set[str] = set()
    for root in by_id:
        stack = [(root, iter(by_id[root].requires))]
        active = {root}  # on the stack: a requirement met again here would be a cycle
        while stack:
            rid, pending = stack[-1]
            req = next((x for x in pending if x not in placed), None)
            if req is None:
                stack.pop()
                active.discard(rid)
                if rid not in placed:
                    placed.add(rid)
                    order.append(rid)
            elif req in by_id and req not in active:
                active.add(req)
                stack.append((req, iter(by_id[req].requires)))
    return order


def feasible(retrofits: Sequence[Retrofit], chosen: Iterable[str]) -> bool:
    """Whether ``chosen`` holds everything its retrofits require."""
    chosen = set(chosen)
    by_id = {r.id: r for r in retrofits}
    return all(set(by_id[c].requires) <= chosen for c in chosen)


def reduce_to_feasible(retrofits: Sequence[Retrofit], chosen: set[str]) -> tuple[str, ...]:
    """The largest part of ``chosen`` whose requirements it satisfies, in catalog order."""
    by_id = {r.id: r for r in retrofits}
    keep: set[str] = set()
    for rid in topological(retrofits):
        if rid in chosen and set(by_id[rid].requires) <= keep:
            keep.add(rid)
    return tuple(r.id for r in retrofits if r.id in keep)


# More default plans than this are refused: each costs a full set of replications.
MAX_DEFAULT_PLANS = 256


def _subsets(scenario: Scenario, max_n: int | None, limit: int) -> list[frozenset[str]]:
    """Feasible non-empty subsets with at most ``max_n`` non-core retrofits; stops past ``limit``.

    A depth-first walk in topological order: a retrofit may join only once what it requires
    has joined, so every leaf is a feasible subset and the walk never exceeds ``limit`` + 1
    of them, however many the catalog allows.
    """
    by_id = {r.id: r for r in scenario.retrofits}
    order = topological(scenario.retrofits)
    cap = len(order) if max_n is None else max_n
    found: list[frozenset[str]] = []
    stack: list[tuple[int, frozenset[str], int]] = [(0, frozenset(), 0)]
    while stack and len(found) <= limit:
        i, chosen, others = stack.pop()
        if i == len(order):
            if chosen:
                found.append(chosen)
            continue
        stack.append((i + 1, chosen, others))
        retrofit = by_id[order[i]]
        extra = 0 if retrofit.core else 1
        if set(retrofit.requires) <= chosen and others + extra <= cap:
            stack.append((i + 1, chosen | {retrofit.id}, others + extra))
    return found


def _too_many(scenario: Scenario, max_n: int | None) -> UsageError:
    """Why the default plans are refused, and the largest --max-n that would fit."""
    fits = [
        (k, n)
        for k in range(len(scenario.retrofits))
        if (n := len(_subsets(scenario, k, MAX_DEFAULT_PLANS))) <= MAX_DEFAULT_PLANS
    ]
    hint = f"--max-n {fits[-1][0]} ({fits[-1][1]} plans)" if fits else "--max-n K"
    limit = "" if max_n is None else f" with --max-n {max_n}"
    return UsageError(
        f"option --max-n: the {len(scenario.retrofits)} retrofits allow more than "
        f"{MAX_DEFAULT_PLANS} plans{limit}; compare fewer with {hint}, "
        "or name the plans with --plan"
    )


def default_plans(scenario: Scenario, max_n: int | None = None) -> list[Plan]:
    """Every feasible non-empty subset of the catalog, with or without the core.

    ``max_n`` bounds how many retrofits besides the core a plan holds. Smallest plans first,
    then in catalog order. More than ``MAX_DEFAULT_PLANS`` is refused (a UsageError naming
    the options that narrow them), found without enumerating the whole power set.
    """
    found = _subsets(scenario, max_n, MAX_DEFAULT_PLANS)
    if len(found) > MAX_DEFAULT_PLANS:
        raise _too_many(scenario, max_n)
    position = {r.id: i for i, r in enumerate(scenario.retrofits)}
    ordered = sorted(
        (sorted(s, key=position.__getitem__) for s in found),
        key=lambda ids: (len(ids), [position[x] for x in ids]),
    )
    return [Plan(tuple(ids)) for ids in ordered]


def check_catalog(
    scenario: Scenario,
    lines: dict[tuple[str | int, ...], int] | None = None,
    source: str = "<scenario>",
) -> None:
    """Apply each retrofit (after what it requires) once, so a bad change fails at load time,
    named by its retrofit, its path and its line."""
    by_id = {r.id: r for r in scenario.retrofits}
    base = scenario.model_dump(mode="json")

    order = topological(scenario.retrofits)
    ancestors: dict[str, set[str]] = {}
    for rid in order:  # requirements first, so each closure is built once from theirs
        ancestors[rid] = set(by_id[rid].requires).union(
            *(ancestors[req] for req in by_id[rid].requires)
        )

    def closure(rid: str) -> list[str]:
        return [x for x in order if x in ancestors[rid]] + [rid]

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
