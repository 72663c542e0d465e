"""The carparts protocol shared by the forecasting and inventory benchmarks.

Months 1 to 39 train, 40 to 51 are held out; the 1,046-series set of the literature (Snyder, Ord
and Beaumont 2012) is the complete series with at least 10 positive months, one of them in the
first 15 and one in the last 15 months.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "carparts"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(data: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return part ids, the complete series (parts x 51 months) and the 1,046-series mask."""
    wide = pd.read_csv(data / "carparts.csv", index_col="part").dropna()
    values = wide.to_numpy(float)
    positive = values > 0
    literature = (
        (positive.sum(axis=1) >= 10) & positive[:, :15].any(axis=1) & positive[:, -15:].any(axis=1)
    )
    return [str(p) for p in wide.index], values, literature


def long_table(ids: list[str], train: np.ndarray) -> pd.DataFrame:
    """The training months as statsforecast's long table (unique_id, ds, y)."""
    n_series, n_months = train.shape
    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids, n_months),
            "ds": np.tile(np.arange(1, n_months + 1), n_series),
            "y": train.ravel(),
        }
    )
