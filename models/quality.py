"""Defects and inspection: parts that leave a station defective, and the checks that find
them (or reject good parts by mistake).

A defect is a fact about a part (:attr:`models.part.Part.defective`) that no station sees
until an inspection looks. Each has its own stream of uniforms, one draw per part
processed (defects) or inspected (inspection), so adding either changes no other draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Draw = Callable[[], float]

# What an inspection decides about a part: what the part was, and what was concluded.
PASSED = "passed"  # a good part, passed
MISSED = "missed"  # a defective part, passed: it goes on undetected
DETECTED = "detected"  # a defective part, rejected
FALSE_REJECT = "false_reject"  # a good part, rejected
REJECTED = (DETECTED, FALSE_REJECT)


@dataclass(frozen=True)
class Defects:
    """A part leaves the station defective with probability ``rate + per_wear * wear``
    (the machine's wear at the end of processing), clipped to [0, 1]."""

    rate: float
    per_wear: float
    draw: Draw

    def makes(self, wear: float) -> bool:
        """Whether the part just processed leaves defective (one draw, always taken)."""
        chance = self.rate + self.per_wear * wear
        return self.draw() < min(1.0, max(0.0, chance))


@dataclass(frozen=True)
class Inspection:
    """After processing, a defective part is rejected with probability ``detect``, a good
    one with probability ``false_reject``; a rejected part is scrapped (``rework`` None) or
    sent to rework at station ``rework``, which repairs its defect."""

    detect: float
    false_reject: float
    draw: Draw
    rework: str | None = None

    def verdict(self, defective: bool) -> str:
        """What the check of a part makes of it (one draw, always taken)."""
        u = self.draw()
        if defective:
            return DETECTED if u < self.detect else MISSED
        return FALSE_REJECT if u < self.false_reject else PASSED
