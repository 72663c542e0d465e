from __future__ import annotations

import re
from pathlib import Path

import pytest

import factorybrain
from factorybrain.model import (
    EDGE_TYPES,
    ENTITY_TYPES,
    KNOWN_AT,
    entity_type,
    reference_markdown,
)

ROOT = Path(__file__).resolve().parents[2]

# Every entity type DESIGN.md lists, by its model name (the ISA-95 levels are the `asset` type).
DESIGN_TYPES = {
    "asset",
    "time_series",
    "event",
    "product",
    "material",
    "bom",
    "design_revision",
    "recipe",
    "supplier",
    "supplier_lot",
    "purchase_order",
    "material_lot",
    "work_order",
    "operation",
    "serial_unit",
    "quality_result",
    "maintenance_order",
    "location",
    "inventory_transaction",
    "stock_level",
    "sales_order",
    "shipment",
    "customer",
    "warranty_claim",
    "service_visit",
    "document",
    "annotation",
    "finding",
    "recommendation",
    "action",
    "audit_entry",
}
DESIGN_EDGES = {
    "supplied_by",
    "consumed_in",
    "produced",
    "processed_on",
    "shipped_in",
    "claimed_in",
}


def test_every_design_entity_type_exists() -> None:
    assert DESIGN_TYPES <= {e.name for e in ENTITY_TYPES}
    assert DESIGN_EDGES <= {e.name for e in EDGE_TYPES}


def test_asset_levels_follow_isa95() -> None:
    assert entity_type("asset").field("level").values == (
        "enterprise",
        "site",
        "area",
        "line",
        "workcell",
        "equipment",
    )


def test_relations_point_to_existing_types() -> None:
    names = {e.name for e in ENTITY_TYPES}
    for entity in ENTITY_TYPES:
        for field in entity.relations:
            assert field.ref in names, (entity.name, field.name)
    for edge in EDGE_TYPES:
        assert {edge.source_type, edge.target_type} <= names


def test_every_entity_has_identity_and_provenance() -> None:
    for entity in ENTITY_TYPES:
        for name in ("space", "external_id", "name", "aliases", "tags", "source", "source_id"):
            entity.field(name)


def test_field_names_are_unique_per_entity() -> None:
    for entity in ENTITY_TYPES:
        assert len(set(entity.field_names)) == len(entity.field_names), entity.name


def test_unknown_entity_type_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="work_order"):
        entity_type("workorder")


def test_reference_in_docs_is_current() -> None:
    committed = (ROOT / "docs" / "reference" / "entities.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run 'make docs' to regenerate the reference"


def test_reference_documents_every_field() -> None:
    text = reference_markdown()
    for entity in ENTITY_TYPES:
        assert f"### `{entity.name}`" in text
        for field in entity.fields:
            assert re.search(rf"\| `{field.name}` \|", text)


def test_public_api_is_sorted_and_importable() -> None:
    assert factorybrain.__all__ == sorted(factorybrain.__all__)
    for name in factorybrain.__all__:
        assert hasattr(factorybrain, name)


def test_every_rule_for_looking_back_names_timestamp_fields_of_its_type() -> None:
    for name, rule in KNOWN_AT.items():
        entity = entity_type(name)
        for field_name in (rule.known_at, *rule.later):
            if field_name is not None:
                assert entity.field(field_name).type == "timestamp", (name, field_name)
        if rule.status is not None:
            assert "status" in entity.field_names, name
