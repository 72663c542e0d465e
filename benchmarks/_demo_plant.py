"""What the agent benchmarks start from: a demo plant simulated and loaded, or one already loaded.

``add_plant_arguments`` adds the options (``--seed``, ``--days``, ``--machines``, the loaded store
and ``--plant``, optionally ``--keep``); ``demo_plant`` yields the store's path and the plant's
truth, and removes a plant it simulated into a temporary folder afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def add_plant_arguments(
    parser: argparse.ArgumentParser, *, store_flag: str = "--store", keep: bool = True
) -> None:
    """Add the plant's options; the loaded store's option is ``store_flag`` (read as ``store``)."""
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--machines", type=int, default=12)
    parser.add_argument(
        store_flag, dest="store", type=Path, default=None, help="an already loaded demo store"
    )
    parser.add_argument(
        "--plant", type=Path, default=None, help="its exports (the folder holding truth.json)"
    )
    if keep:
        parser.add_argument(
            "--keep", type=Path, default=None, help="simulate and load into this folder"
        )


def plant_facts(truth: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``seed``, ``days`` and ``machines`` of the plant measured: a loaded store's own (its
    ``truth.json``), else the options it was simulated with."""
    plant = truth.get("plant") if isinstance(truth.get("plant"), dict) else {}
    return {key: plant.get(key, getattr(args, key)) for key in ("seed", "days", "machines")}


@contextmanager
def demo_plant(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, prefix: str, link: bool = False
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield ``(store path, truth)`` of the given store, or of a plant simulated and loaded now.

    Args:
        parser: The benchmark's parser (a store without ``--plant`` is its usage error).
        args: Its parsed arguments (see :func:`add_plant_arguments`).
        prefix: Name prefix of the temporary folder a simulated plant goes to.
        link: Link identities across silos after loading, as the demo does.
    """
    work = None
    if args.store is not None:
        if args.plant is None:
            parser.error("a loaded store needs --plant (the folder holding truth.json)")
        store_path, plant = args.store, args.plant
    else:
        from factorybrain.demo import build_plant

        keep = getattr(args, "keep", None)
        folder = keep or Path(tempfile.mkdtemp(prefix=prefix))
        work = None if keep else folder
        started = time.perf_counter()
        plant, store_path = build_plant(
            folder, days=args.days, machines=args.machines, seed=args.seed
        )
        if link:
            from factorybrain.context._demo import contextualize_stage
            from factorybrain.store import open_store

            truth = json.loads((plant / "truth.json").read_text(encoding="utf-8"))
            with open_store(store_path) as store:
                contextualize_stage(store, truth)
        done = "simulated, loaded and linked" if link else "simulated and loaded"
        print(f"{done} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    truth = json.loads((plant / "truth.json").read_text(encoding="utf-8"))
    try:
        yield store_path, truth
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
