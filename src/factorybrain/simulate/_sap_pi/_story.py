"""Everything the gear plant's simulation decided, handed to the silo writers and the truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from factorybrain.simulate._sap_pi._calendar import Calendar
from factorybrain.simulate._sap_pi._maintenance import MaintenancePlan
from factorybrain.simulate._sap_pi._production import LineRun, LotBook, Order
from factorybrain.simulate._sap_pi._sales import SalesPlan
from factorybrain.simulate._sap_pi._world import World


@dataclass
class Story:
    """The simulated plant, and what the writers learnt while writing it."""

    world: World
    calendar: Calendar
    maintenance: MaintenancePlan
    orders: list[Order]
    runs: dict[int, LineRun]
    book: LotBook
    sales: SalesPlan
    seed: int
    sample_seconds: int
    serials: int
    #: per file (relative path): what a loader must account for
    records: dict[str, Any] = field(default_factory=dict)
    #: what was made dirty on purpose
    dirt: dict[str, Any] = field(default_factory=dict)
    #: strings each silo actually wrote, to keep the truth's refs to what is there
    seen: dict[str, set[str]] = field(default_factory=dict)
    #: per claim index: the case number, the serial as typed
    claim_ids: list[str] = field(default_factory=list)
    typed_serials: list[str] = field(default_factory=list)
    #: PI: tags, outages, digital states, stuck sensor, rows written
    pi: dict[str, Any] = field(default_factory=dict)

    def see(self, silo: str, *values: str) -> None:
        """Record that a silo wrote these strings."""
        self.seen.setdefault(silo, set()).update(values)

    def epoch(self, minute: float) -> int:
        """Epoch second of a minute of the horizon."""
        return self.calendar.epoch(minute)

    def serial(self, order: int, unit: int) -> str:
        """The nameplate serial of one unit of an order."""
        return self.orders[order].serial_texts[unit]
