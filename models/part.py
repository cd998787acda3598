"""Parts: the products that flow through a line."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.station import Station


class Part:
    """One unit of a product on its route."""

    __slots__ = (
        "arrived",
        "created",
        "defective",
        "id",
        "product",
        "reworks",
        "route",
        "step",
        "where",
    )

    def __init__(self, pid: int, product: str, route: tuple[Station, ...], created: float) -> None:
        self.id = pid
        self.product = product
        self.route = route
        self.step = -1
        self.created = created
        self.arrived = created
        self.where = "line"  # scope of where it is: the line (entering), a station, a machine
        self.reworks = 0  # times it was sent back for rework
        self.defective = False  # made defective at a station, not yet found (or reworked)

    @property
    def next_station(self) -> Station | None:
        """The station after the current one, or ``None`` when the part is done."""
        nxt = self.step + 1
        return self.route[nxt] if nxt < len(self.route) else None

    def __repr__(self) -> str:
        return f"Part({self.id}, {self.product!r}, step={self.step})"
