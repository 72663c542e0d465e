"""Heavy work runs here or on a Ray cluster, with the same results (factorybrain.compute)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from factorybrain import compute
from factorybrain.agents.maintenance import MaintenanceAgent
from factorybrain.cli import app
from factorybrain.context import match
from factorybrain.exceptions import ComputeError, EngineError
from factorybrain.store import open_store
from tests.agents.test_maintenance import plant as three_machines  # noqa: F401 (fixture "plant")
from tests.context.test_matching_identifiers import _floor, _framework, _ledger


def _square_plus(piece: int, offset: int) -> tuple[int, int]:
    return piece * piece + offset, os.getpid()


def _fails_on_three(piece: int) -> int:
    if piece == 3:
        raise EngineError("piece 3 has no history")
    return piece


def _slow_once(piece: int, marker: str) -> int:
    """Piece 0 sleeps the first time it runs (its worker is killed meanwhile), not the second."""
    first = Path(f"{marker}.{piece}")
    if piece == 0 and not first.exists():
        first.write_text(str(os.getpid()))
        time.sleep(60)
    return piece * 10


def _findings(report) -> list[tuple]:
    return sorted(
        (f.id, f.kind, f.title, json.dumps(f.evidence.dump(), sort_keys=True, default=str))
        for f in report.findings
    )


def test_the_local_pool_runs_every_piece_in_order_with_the_shared_arguments() -> None:
    with compute.using(None) as pool:
        assert pool.name == "local"
        assert pool.map(_square_plus, [3, 1, 2], 10) == [
            (19, os.getpid()),
            (11, os.getpid()),
            (14, os.getpid()),
        ]
        with pytest.raises(EngineError, match="piece 3 has no history"):
            pool.map(_fails_on_three, list(range(6)))


def test_without_an_address_the_work_runs_here(monkeypatch) -> None:
    monkeypatch.delenv(compute.RAY_ADDRESS_ENV, raising=False)
    assert compute.address() is None
    assert compute.pool().describe() == "in this process"
    monkeypatch.setenv(compute.RAY_ADDRESS_ENV, "   ")
    assert compute.address() is None


def test_an_address_in_the_environment_is_used_unless_a_block_says_otherwise(monkeypatch) -> None:
    monkeypatch.setenv(compute.RAY_ADDRESS_ENV, "10.1.2.3:6379")
    assert compute.address() == "10.1.2.3:6379"
    with compute.using(None) as pool:  # the block runs here, whatever the environment says
        assert compute.address() is None
        assert pool.name == "local"
    assert compute.address() == "10.1.2.3:6379"


@pytest.mark.slow
def test_a_cluster_gives_the_results_in_order_and_raises_a_pieces_own_error(ray_address) -> None:
    with compute.using(ray_address) as pool:
        assert pool.name == "ray" and pool.workers == 2
        results = pool.map(_square_plus, list(range(20)), 5)
        assert [value for value, _ in results] == [i * i + 5 for i in range(20)]
        assert {pid for _, pid in results} - {os.getpid()}, "ran in the cluster's workers"
        with pytest.raises(EngineError, match="piece 3 has no history"):
            pool.map(_fails_on_three, list(range(6)))
        assert pool.map(_square_plus, [], 1) == []


@pytest.mark.slow
def test_a_worker_killed_mid_run_has_its_task_run_again_and_the_run_finishes(
    ray_address, tmp_path
) -> None:
    marker = str(tmp_path / "started")
    killed: list[int] = []

    def kill_the_sleeper() -> None:
        started = Path(f"{marker}.0")
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        pid = int(started.read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    with compute.using(ray_address) as pool:
        killer = threading.Thread(target=kill_the_sleeper)
        killer.start()
        began = time.monotonic()
        results = pool.map(_slow_once, list(range(6)), marker)
        killer.join()
    assert killed, "a worker was killed while it ran piece 0"
    assert results == [piece * 10 for piece in range(6)]  # nothing lost, nothing twice
    assert time.monotonic() - began < 50  # the retry did not wait for the killed sleep


@pytest.mark.slow
def test_the_maintenance_agent_finds_the_same_on_a_cluster_as_here(request, ray_address) -> None:
    plant = request.getfixturevalue("three_machines")
    with compute.using(None):
        here = MaintenanceAgent().scan(plant)
    with compute.using(ray_address):
        there = MaintenanceAgent().scan(plant)
    assert {f.kind for f in here.findings} >= {"maintenance.anomaly", "maintenance.rul_low"}
    assert _findings(there) == _findings(here)
    assert [r.id for r in there.recommendations] == [r.id for r in here.recommendations]


@pytest.mark.slow
def test_matching_proposes_the_same_links_on_a_cluster_as_here(ray_address) -> None:
    with open_store(":memory:", migrate=True) as store:
        _ledger(store)
        _framework(store)
        _floor(store)
        with compute.using(None):
            here = match(store, write=False).annotations
        with compute.using(ray_address):
            there = match(store, write=False).annotations
    assert len(here) and (here.status == "approved").any()
    pd.testing.assert_frame_equal(there, here)


@pytest.mark.slow
def test_an_unreachable_cluster_is_named_in_the_error(monkeypatch) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (the 'cluster' extra)")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    result = CliRunner().invoke(app, ["match", "run", "--db", ":memory:", "--ray", "127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Ray cluster at '127.0.0.1:9'" in result.output
    compute.configure(None)


def test_without_ray_installed_an_address_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(ComputeError, match=r"install factorybrain\[cluster\]"):
        with compute.using("10.1.2.3:6379"):
            pass
