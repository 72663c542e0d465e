"""A fleet end to end: two simulated sites loaded, matched and served from one store.

``factorybrain simulate --sites 2`` writes two pump plants and ``fleet.yaml``; ``factorybrain
load fleet.yaml`` loads each through the shipped mappings into its own spaces; ``factorybrain
match run`` links every silo's names within each site and never across; the API serves both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factorybrain.api import TokenStore, create_app
from factorybrain.cli import app
from factorybrain.connectors import load_plant, read_manifest
from factorybrain.demo import DEMO_MANIFEST
from factorybrain.model import ENTITY_TYPES, site_of
from factorybrain.store import DuckDBStore, Store, open_store

runner = CliRunner()
SITES = ("site-01", "site-02")


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict]]:
    """The fleet's exports, its store (loaded and matched) and what ``load --json`` said."""
    folder = tmp_path_factory.mktemp("fleet")
    exports, db = folder / "exports", folder / "fleet.duckdb"
    simulated = runner.invoke(
        app,
        ["simulate", "--out", str(exports), "--sites", "2", "--days", "60", "--machines", "4"]
        + ["--seed", "3", "--sample-seconds", "3600"],
    )
    assert simulated.exit_code == 0, simulated.output
    loaded = runner.invoke(app, ["load", str(exports / "fleet.yaml"), "--db", str(db), "--json"])
    assert loaded.exit_code == 0, loaded.output
    matched = runner.invoke(app, ["match", "run", "--db", str(db)])
    assert matched.exit_code == 0, matched.output
    yield exports, db, json.loads(loaded.stdout)


def _counts(store: Store, site: str = "") -> dict[tuple[str, str], int]:
    """Rows per (table, space without the site), of one site's spaces (all without a site)."""
    counts = {}
    for entity in ENTITY_TYPES:
        if entity.name in ("annotation", "finding", "recommendation", "action", "audit_entry"):
            continue
        for space, rows in store.query(
            f'SELECT space, count(*) AS n FROM "{entity.name}" GROUP BY space'
        ).itertuples(index=False):
            if site_of(space) == site:
                counts[entity.name, space.removeprefix(f"{site}/" if site else "")] = int(rows)
    for space, rows in store.query(
        "SELECT source_space AS space, count(*) AS n FROM edge GROUP BY 1"
    ).itertuples(index=False):
        if site_of(space) == site:
            counts["edge", space.removeprefix(f"{site}/" if site else "")] = int(rows)
    points = store.query(
        "SELECT t.space, count(*) AS n FROM datapoint d JOIN time_series t USING (series_id) "
        "GROUP BY 1"
    )
    for space, rows in points.itertuples(index=False):
        if site_of(space) == site:
            counts["datapoint", space.removeprefix(f"{site}/" if site else "")] = int(rows)
    return counts


def test_the_fleet_manifest_loads_every_row_of_each_site_into_the_sites_spaces(
    fleet: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    exports, db, loaded = fleet
    _, shipped = read_manifest(DEMO_MANIFEST)
    assert loaded["failures"] == []
    reports = loaded["reports"]
    assert len(reports) == 2 * len(shipped)
    for report in reports:
        assert report["status"] == "ok"
        accounted = sum(
            report[k]
            for k in ("inserted", "updated", "unchanged", "merged", "filtered", "quarantined")
        )
        assert accounted == report["rows_read"], report["source_file"]
    with DuckDBStore(db, read_only=True) as store:
        assert {site_of(space) for space in store.query("SELECT space FROM asset").space} == set(
            SITES
        )
        fleet_counts = {site: _counts(store, site) for site in SITES}
        assert _counts(store) == {}
    # A site holds what its files loaded alone, with no site, put in a store of their own.
    with DuckDBStore(tmp_path / "alone.duckdb") as alone:
        alone.migrate()
        assert load_plant(alone, DEMO_MANIFEST, root=exports / "site-02").failures == []
        assert fleet_counts["site-02"] == _counts(alone)
    assert fleet_counts["site-01"].keys() == fleet_counts["site-02"].keys()
    assert fleet_counts["site-01"]["serial_unit", "mes"] > 0
    assert fleet_counts["site-01"]["datapoint", "historian"] > 0


def test_matching_links_within_each_site_and_never_across(
    fleet: tuple[Path, Path, dict],
) -> None:
    _, db, _ = fleet
    with DuckDBStore(db, read_only=True) as store:
        links = store.query("SELECT source_space, target_space, status, method FROM annotation")
    assert len(links)
    sources, targets = links.source_space.map(site_of), links.target_space.map(site_of)
    assert (sources == targets).all()
    approved = links[links.status == "approved"]
    assert set(approved.source_space.map(site_of)) == set(SITES)
    # Both sites' claims found their serials, each in its own site's MES.
    claims = approved[approved.method == "serial-normalised/1"]
    assert set(claims.target_space) == {f"{site}/mes" for site in SITES}
    # Every silo of each site with names to link was linked to that site's hubs.
    for site in SITES:
        linked = set(approved[approved.source_space.map(site_of) == site].source_space)
        assert {f"{site}/{silo}" for silo in ("erp", "historian", "wms", "crm")} <= linked


def test_the_api_serves_each_sites_machines_and_links(fleet: tuple[Path, Path, dict]) -> None:
    _, db, _ = fleet
    with (
        DuckDBStore(db, read_only=True) as store,
        open_store(":memory:", migrate=True) as token_store,
    ):
        tokens = TokenStore(token_store)
        headers = {"Authorization": f"Bearer {tokens.create('viewer', 'viewer')}"}
        with TestClient(create_app(store, tokens=tokens)) as client:
            page = client.get(
                "/api/v1/assets", params={"space": "site-02/mes", "limit": 50}, headers=headers
            )
            assert page.status_code == 200, page.text
            machines = {row["external_id"] for row in page.json()["items"]}
            assert "BRE-LTH-01" in machines
            assert all(code.startswith("BRE-") for code in machines)
            one = client.get(
                "/api/v1/assets/BRE-LTH-01", params={"space": "site-02/mes"}, headers=headers
            )
            assert one.status_code == 200 and one.json()["space"] == "site-02/mes"
            links = client.get(
                "/api/v1/links",
                params={"type": "asset", "space": "site-02/mes", "external_id": "BRE-LTH-01"},
                headers=headers,
            )
            assert links.status_code == 200, links.text
            spaces = {link["space"] for link in links.json()}
            assert "site-02/erp" in spaces and "site-02/historian" in spaces
            assert all(site_of(space) == "site-02" for space in spaces)


def test_planning_names_the_sites_it_did_not_plan(
    fleet: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    import shutil

    from factorybrain.agents import AgentContext, AgentRecords
    from factorybrain.agents.planning import PlanningAgent
    from factorybrain.agents.planning._model import planning_source

    _, db, _ = fleet
    copy = shutil.copy(db, tmp_path / "fleet.duckdb")  # the agent writes its plan
    with DuckDBStore(copy) as store:
        planned = planning_source(store).space
        context = AgentContext(store, AgentRecords(store))
        found = list(PlanningAgent(time_limit=2.0, workers=1).run(context))
    assert site_of(planned) in SITES
    (left_out,) = [f for f in found if f.dedup_key.startswith("sites-")]
    assert left_out.kind == "planning.data_quality"
    (other,) = set(SITES) - {site_of(planned)}
    assert repr(other) in left_out.evidence.text and repr(planned) in left_out.evidence.text
