"""Flexible job-shop benchmark: factorybrain's scheduling engine against a plain CP-SAT model.

Same options, protocol and JSON keys as ``schedule_jobshop.py``, on instances in the ``.fjs``
layout (``DIR/instances/<family>/<name>.txt``, best-known bounds in ``DIR/solutions/bks.json``).

Example:
    .venv/bin/python benchmarks/schedule_fjsp.py --time-limit 20 --instances 'mk*'
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factorybrain.engines.schedule import read_fjsp  # noqa: E402
from schedule_jobshop import main  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fjsp"

if __name__ == "__main__":
    main(reader=read_fjsp, default_data=DEFAULT_DATA)
