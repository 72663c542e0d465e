"""Syntetos-Boylan demand classification: smooth, erratic, intermittent, lumpy.

The average inter-demand interval (ADI) is the mean number of periods between two non-zero demands;
CV squared is the squared coefficient of variation of the non-zero demand sizes. The cut-offs
ADI = 1.32 and CV^2 = 0.49 are those of Syntetos, Boylan and Croston (2005), "On the categorization
of demand patterns", Journal of the Operational Research Society 56(5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

SMOOTH = "smooth"
ERRATIC = "erratic"
INTERMITTENT = "intermittent"
LUMPY = "lumpy"
NO_DEMAND = "no_demand"

DEMAND_CLASSES = (SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NO_DEMAND)


@dataclass(frozen=True)
class DemandProfile:
    """The Syntetos-Boylan statistics of one demand history.

    Attributes:
        adi: Average inter-demand interval in periods (``inf`` without demand).
        cv2: Squared coefficient of variation of the non-zero sizes (0 with fewer than two).
        demand_class: One of ``smooth``, ``erratic``, ``intermittent``, ``lumpy`` or
            ``no_demand`` (an all-zero history).
    """

    adi: float
    cv2: float
    demand_class: str


def classify_demand(y: np.ndarray) -> DemandProfile:
    """Classify one demand history by ADI and CV squared.

    ADI is the number of periods divided by the number of periods with demand, so a series with
    demand in every period has ADI 1.

    Args:
        y: Demand per period, oldest first; non-finite values are ignored.

    Returns:
        The :class:`DemandProfile` of the history.

    Example:
        >>> classify_demand(np.array([0, 0, 1, 0, 0, 9, 0, 0, 1])).demand_class
        'lumpy'
        >>> classify_demand(np.array([4, 5, 4, 6, 5])).demand_class
        'smooth'
    """
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    sizes = values[values > 0]
    if sizes.size == 0:
        return DemandProfile(adi=float("inf"), cv2=0.0, demand_class=NO_DEMAND)
    adi = values.size / sizes.size
    mean = sizes.mean()
    cv2 = float(sizes.var() / mean**2) if sizes.size > 1 else 0.0
    if adi < ADI_CUTOFF:
        demand_class = SMOOTH if cv2 < CV2_CUTOFF else ERRATIC
    else:
        demand_class = INTERMITTENT if cv2 < CV2_CUTOFF else LUMPY
    return DemandProfile(adi=float(adi), cv2=cv2, demand_class=demand_class)
