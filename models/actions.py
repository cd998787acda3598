"""Actions on a running line, and how a model says no to one.

Trainers and agents act on a line through small public methods of the models
(``Station.hold``, ``Machine.maintain``, ``Machine.fail``, ``Station.set_speed``,
``Arrivals.set_rate``, ``set_mix``). Each applies its action at the current simulated time
and returns ``None``, or raises :class:`Refused` and changes nothing. The checks shared by
several of them live here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

NOT_ALLOWED_IN_STATE = "not_allowed_in_state"
BAD_PARAMETER = "bad_parameter"


class Refused(Exception):
    """An action that cannot be applied: ``code`` says which kind of no, ``reason`` why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def positive_factor(factor: float, what: str) -> float:
    """``factor`` if it is a finite number above 0, else refuse it naming ``what``."""
    if isinstance(factor, bool) or not isinstance(factor, int | float):
        raise Refused(BAD_PARAMETER, f"{what} must be a number, got {factor!r}")
    if not (math.isfinite(factor) and factor > 0):
        raise Refused(BAD_PARAMETER, f"{what} must be a finite number above 0, got {factor!r}")
    return float(factor)


def seconds_of(seconds: float, what: str, *, zero: bool) -> float:
    """``seconds`` if finite and above 0 (or 0 when ``zero``), else refuse it naming ``what``."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise Refused(BAD_PARAMETER, f"{what} must be a number of seconds, got {seconds!r}")
    low_ok = seconds >= 0 if zero else seconds > 0
    if not (math.isfinite(seconds) and low_ok):
        bound = "0 or more" if zero else "above 0"
        raise Refused(BAD_PARAMETER, f"{what} must be finite and {bound} seconds, got {seconds!r}")
    return float(seconds)


def shares(mix: Mapping[str, float], known: Iterable[str], where: str) -> list[tuple[str, float]]:
    """The shares of ``mix`` normalised to sum 1, over the ``known`` products only."""
    products = list(known)
    if not isinstance(mix, Mapping) or not mix:
        raise Refused(BAD_PARAMETER, f"a mix names products and their shares, got {mix!r}")
    unknown = sorted(str(p) for p in mix if p not in products)
    if unknown:
        raise Refused(
            BAD_PARAMETER,
            f"unknown product(s) {', '.join(unknown)} at {where}; known: {', '.join(products)}",
        )
    for product, share in mix.items():
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise Refused(BAD_PARAMETER, f"share of {product} must be a number, got {share!r}")
        if not (math.isfinite(share) and share >= 0):
            reason = f"share of {product} must be finite and >= 0, got {share!r}"
            raise Refused(BAD_PARAMETER, reason)
    total = sum(mix.values())
    if total <= 0:
        raise Refused(BAD_PARAMETER, "the shares of a mix must not all be 0")
    return [(p, mix[p] / total) for p in products if mix.get(p, 0.0) > 0]
