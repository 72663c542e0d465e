"""Manifests that include manifests, and sites: one company's plants, each in its own spaces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from factorybrain.connectors import load_plant, read_manifest
from factorybrain.connectors._mapping import load_mapping, place_in_site
from factorybrain.exceptions import MappingError
from factorybrain.model import site_of, site_problem, site_sql, space_in_site
from factorybrain.store import Store

MATERIALS = """\
entity: material
space: erp
fields:
  external_id: id
  name: name
  aliases: {columns: [part]}
"""
#: Stock found through the material's part number, in the ERP's space only.
STOCK_IN_ERP = """\
entity: stock_level
space: wms
fields:
  external_id: "{part}@{day}"
  material: {column: part, lookup: {entity: material, match: aliases, space: erp}}
  quantity: quantity
  as_of: day
"""
#: The same stock found through the material's part number in any space of the site.
STOCK_ANYWHERE = STOCK_IN_ERP.replace("space: wms", "space: qms").replace(", space: erp}", "}")
#: Lots issued to orders: genealogy edges from the WMS's lot to the ERP's order.
ISSUES = """\
entity: edge
edge: consumed_in
space: wms
fields:
  source_external_id: lot
  target_external_id: order
  target_space: {value: erp}
"""
PLANT = """\
name: one plant
sources:
  - {file: materials.csv, mapping: mappings/materials.yaml}
  - {file: stock.csv, mapping: mappings/stock_erp.yaml}
  - {file: stock.csv, mapping: mappings/stock_any.yaml}
  - {file: issues.csv, mapping: mappings/issues.yaml}
"""
FLEET = """\
name: two plants
include:
  - {manifest: plant.yaml, site: site-a, exports: exports/a}
  - {manifest: plant.yaml, site: site-b, exports: exports/b}
"""


@pytest.fixture
def store(either_store: Store) -> Store:
    """Sites load alike into both stores: the embedded file and PostgreSQL."""
    return either_store


@pytest.fixture
def company(write: Callable[..., Path]) -> Path:
    """Two plants whose ERPs give the same part number P100 to a material of their own."""
    write("mappings/materials.yaml", MATERIALS)
    write("mappings/stock_erp.yaml", STOCK_IN_ERP)
    write("mappings/stock_any.yaml", STOCK_ANYWHERE)
    write("mappings/issues.yaml", ISSUES)
    write("plant.yaml", PLANT)
    for site in ("a", "b"):
        write(f"exports/{site}/materials.csv", f"id,name,part\nM-{site}1,Bearing,P100\n")
        write(f"exports/{site}/stock.csv", "part,quantity,day\nP100,40,2025-03-01\n")
        write(f"exports/{site}/issues.csv", f"lot,order\nLOT-{site},WO-{site}\n")
    return write("fleet.yaml", FLEET)


def test_each_site_loads_into_its_own_spaces_and_finds_its_own_entities(
    company: Path, store: Store
) -> None:
    result = load_plant(store, company)
    assert result.failures == []
    assert len(result.reports) == 8
    assert all(r.accounted == r.rows_read == 1 for r in result.reports)
    stock = store.query("SELECT space, material FROM stock_level ORDER BY space")
    assert stock.values.tolist() == [
        ["site-a/qms", "M-a1"],
        ["site-a/wms", "M-a1"],
        ["site-b/qms", "M-b1"],
        ["site-b/wms", "M-b1"],
    ]
    edges = store.query(
        "SELECT source_space, source_external_id, target_space, target_external_id FROM edge "
        "ORDER BY 1"
    )
    assert edges.values.tolist() == [
        ["site-a/wms", "LOT-a", "site-a/erp", "WO-a"],
        ["site-b/wms", "LOT-b", "site-b/erp", "WO-b"],
    ]
    materials = store.query("SELECT space, external_id, source FROM material ORDER BY 1")
    # The recorded source is still the system; the space says the site.
    assert materials.values.tolist() == [
        ["site-a/erp", "M-a1", "erp"],
        ["site-b/erp", "M-b1", "erp"],
    ]


def test_without_sites_the_same_part_number_is_ambiguous(company: Path, store: Store) -> None:
    """What the sites prevent: both plants in the same spaces, one part number, two materials."""
    first = load_plant(store, company.parent / "plant.yaml", root=company.parent / "exports/a")
    assert first.failures == []
    second = load_plant(store, company.parent / "plant.yaml", root=company.parent / "exports/b")
    stock = [r for r in second.reports if r.entity_type == "stock_level"]
    assert [r.quarantined for r in stock] == [1, 1]


def test_a_mapping_placed_in_a_site_renames_every_space_it_names(company: Path) -> None:
    folder = company.parent / "mappings"
    stock = place_in_site(load_mapping(folder / "stock_erp.yaml"), "eu/hamburg")
    assert stock.space == "eu/hamburg/wms"
    assert stock.source_system == "wms"
    lookup = stock.fields["material"].lookup
    assert lookup is not None and (lookup.space, lookup.site) == ("eu/hamburg/erp", None)
    anywhere = place_in_site(load_mapping(folder / "stock_any.yaml"), "eu/hamburg")
    lookup = anywhere.fields["material"].lookup
    assert lookup is not None and (lookup.space, lookup.site) == (None, "eu/hamburg")
    issues = place_in_site(load_mapping(folder / "issues.yaml"), "eu/hamburg")
    assert (issues.space, issues.fields["target_space"].value) == (
        "eu/hamburg/wms",
        "eu/hamburg/erp",
    )
    # The mapping itself is left as it was.
    assert load_mapping(folder / "issues.yaml").fields["target_space"].value == "erp"


@pytest.mark.parametrize(
    ("mapping", "site", "message"),
    [
        (
            ISSUES.replace("{value: erp}", "to_system"),
            "a",
            r"line 7: field 'target_space': the space comes from the source",
        ),
        (
            MATERIALS.replace("space: erp", "space: erp/old"),
            "a",
            r"space 'erp/old' already names a site",
        ),
        (
            ISSUES.replace("{value: erp}", "{value: x/erp}"),
            "a",
            r"line 7: field 'target_space': space 'x/erp'",
        ),
        (MATERIALS, "a b", r"cannot load into site 'a b': a site is made of letters"),
        (MATERIALS, "x" * 101, r"at most 100 characters"),
        (MATERIALS.replace("space: erp", "space: " + "e" * 150), "x" * 60, r"longer than 200"),
    ],
)
def test_a_mapping_that_cannot_be_placed_says_where_and_why(
    write: Callable[..., Path], mapping: str, site: str, message: str
) -> None:
    path = write("mapping.yaml", mapping)
    with pytest.raises(MappingError, match=message) as caught:
        place_in_site(load_mapping(path), site)
    assert str(path) in str(caught.value)


def test_a_source_that_cannot_be_placed_fails_alone_naming_its_mapping(
    company: Path, store: Store
) -> None:
    (company.parent / "mappings/issues.yaml").write_text(ISSUES.replace("{value: erp}", "lot"))
    result = load_plant(store, company)
    assert len(result.reports) == 6
    assert [Path(file).name for file, _ in result.failures] == ["issues.csv", "issues.csv"]
    assert all("issues.yaml line 7: field 'target_space'" in why for _, why in result.failures)


@pytest.mark.parametrize(
    ("fleet", "message"),
    [
        (
            "includes: [plant.yaml]\n",
            r"fleet.yaml: unknown key 'includes' \(did you mean 'include'\?\)",
        ),
        ("include: plant.yaml\n", r"fleet.yaml: 'include' must be a list"),
        ("name: nothing\n", r"fleet.yaml: expected 'sources:' .* or 'include:'"),
        (
            "include: [{manifest: plant.yaml, sites: a}]\n",
            r"fleet.yaml: include 1: unknown key 'sites' \(did you mean 'site'\?\)",
        ),
        ("include: [{site: a}]\n", r"fleet.yaml: include 1 needs 'manifest'"),
        (
            "include: [plant.yaml, {manifest: plant.yaml, site: 'a b'}]\n",
            r"fleet.yaml: include 2: 'site': a site is made of",
        ),
        ("include: [{manifest: plant.yaml, site: a//b}]\n", r"include 1: 'site': .*found 'a//b'"),
        (
            "include: [{manifest: nowhere.yaml}]\n",
            r"fleet.yaml: include 1: no manifest 'nowhere.yaml'",
        ),
        (
            "include: [{manifest: plant.yaml, exports: exports/c}]\n",
            r"include 1: 'exports' .*exports/c is no folder",
        ),
        (
            "include: [{manifest: 'factorybrain:../../pyproject.toml'}]\n",
            r"include 1: .* outside the factorybrain package",
        ),
        (
            "include: [{manifest: 'factorybrain:examples/none.yaml'}]\n",
            r"include 1: no manifest 'factorybrain:examples/none.yaml'",
        ),
        ("include: [fleet.yaml]\n", r"fleet.yaml: include 1: .*fleet.yaml includes itself"),
    ],
)
def test_a_manifest_error_names_the_file_and_the_entry(
    company: Path, fleet: str, message: str
) -> None:
    company.write_text(fleet)
    with pytest.raises(MappingError, match=message):
        read_manifest(company)


def test_an_error_in_an_included_manifest_names_both_files(company: Path) -> None:
    plant = company.parent / "plant.yaml"
    plant.write_text("sources:\n  - {file: materials.csv}\n")
    with pytest.raises(MappingError) as caught:
        read_manifest(company)
    assert str(caught.value).startswith(f"{plant}: source 1 needs 'mapping'")
    assert str(caught.value).endswith(f"(included by {company}: include 1)")


def test_sites_nest_and_the_manifest_keeps_its_own_sources(
    company: Path, write: Callable[..., Path]
) -> None:
    region = write(
        "region.yaml",
        "sources:\n  - {file: exports/a/materials.csv, mapping: mappings/materials.yaml}\n"
        "include:\n  - {manifest: fleet.yaml, site: eu}\n",
    )
    name, entries = read_manifest(region, root=company.parent)
    assert name == region.parent.name
    assert [entry.site for entry in entries] == ["", *["eu/site-a"] * 4, *["eu/site-b"] * 4]
    assert entries[5].file == company.parent / "exports/b/materials.csv"


def test_the_shipped_pump_manifest_loads_a_site_of_the_fleet(tmp_path: Path) -> None:
    (tmp_path / "site-02").mkdir()
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "include:\n  - manifest: factorybrain:examples/demo_plant/plant.yaml\n"
        "    site: site-02\n    exports: site-02\n"
    )
    _, entries = read_manifest(fleet)
    shipped = Path(__file__).parents[2] / "src/factorybrain/examples/demo_plant"
    assert len(entries) == 42
    assert {entry.site for entry in entries} == {"site-02"}
    assert entries[0].file == tmp_path / "site-02/erp/materials.csv"
    assert entries[0].mapping.resolve() == (shipped / "mappings/erp_materials.yaml").resolve()


def test_site_names_and_the_site_of_a_space(store: Store) -> None:
    assert [site_problem(name) for name in ("site-01", "eu/hamburg", "Werk_3.1")] == [None] * 3
    for bad in ("", "a b", "/a", "a/", "-a", "a//b", "ä", 7):
        assert site_problem(bad) is not None, bad
    assert space_in_site("site-01", "erp") == "site-01/erp"
    assert space_in_site("", "erp") == "erp"
    spaces = ["erp", "site-01/erp", "eu/hamburg/mes", ""]
    found = store.query(
        f"SELECT {site_sql('space')} AS site FROM (SELECT unnest(?) AS space, "
        "generate_subscripts(?, 1) AS n) ORDER BY n",
        [spaces, spaces],
    )
    assert found.site.tolist() == [site_of(space) for space in spaces]
    assert found.site.tolist() == ["", "site-01", "eu/hamburg", ""]
