"""Collect what needs matching: every entity of each space, and every reference left unresolved.

A reference is unresolved when a record names another entity (a relation field of the model, an
edge end, a free ``reference`` column) that its own space does not hold: the historian's tags name
no asset, a claim's serial is "as typed", MES consumption names batch ``3100526`` while ERP holds
``0003100526``. What to collect is read from the model's relation fields, never from a list of
names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from factorybrain.context._normalize import own_part
from factorybrain.model import ENTITY_TYPES, entity_type
from factorybrain.model._entities import EDGE_TYPES
from factorybrain.store import Store

#: Entity types that name the same real thing under one class: ERP keeps finished products as
#: materials, and a received batch has the plant's lot number and the supplier's lot number.
CLASS_OF_TYPE: dict[str, str] = {
    "asset": "asset",
    "product": "item",
    "material": "item",
    "supplier": "supplier",
    "customer": "customer",
    "supplier_lot": "lot",
    "material_lot": "lot",
    "work_order": "work_order",
    "sales_order": "sales_order",
}
#: Classes matched as targets only: their typed references (a shipment's order, one per serial)
#: are too many to propose one by one and are resolved by the order number when traced.
TARGET_ONLY = {"sales_order"}
#: A free ``reference`` column (an order or document number) may name an entity of any class.
ANY_CLASS = "any"
#: The classes a reference to a type that is not matched may still name: a storage location
#: can be a machine's line-side store (an asset), never a lot, an order or a supplier. A
#: reference to any other unmatched type is never compared across classes.
COMPATIBLE_CLASSES: dict[str, str] = {"location": "asset"}
_ATTRIBUTE_FIELDS = ("manufacturer", "model_number", "asset_class", "level")
RECORD_COLUMNS = (
    "cls",
    "space",
    "identifier",
    "kind",
    "entity_type",
    "field",
    "text",
    "label",
    "manufacturer",
    "model_number",
    "members",
    "parent",
)


def _text(*parts: Any) -> str:
    out: list[str] = []
    for part in parts:
        if part is None or (isinstance(part, float) and pd.isna(part)):
            continue
        if isinstance(part, list | tuple) or hasattr(part, "tolist"):
            out.extend(str(p) for p in list(part) if p is not None)
        elif part is not pd.NA:
            out.append(str(part))
    return " ".join(out)


def _label(row: Mapping[str, Any], type_name: str) -> str:
    if type_name == "asset":
        level = row.get("level")
        level = level if isinstance(level, str) else "equipment"
        kind = row.get("asset_class")
        return f"{level}/{kind}" if isinstance(kind, str) and kind else level
    return type_name


def entity_records(store: Store) -> pd.DataFrame:
    """Every entity of the matched classes, one record per (space, external_id)."""
    rows: list[dict[str, Any]] = []
    for type_name, cls in CLASS_OF_TYPE.items():
        fields = entity_type(type_name).field_names
        frame = store.entities(type_name)
        if frame.empty:
            continue
        parents: dict[tuple[str, str], str] = {}
        if "parent" in fields:
            # A parent's own part: a hierarchy's path would bring its server and site numbers.
            parents = {
                (s, e): _text(own_part(e), n)
                for s, e, n in zip(frame.space, frame.external_id, frame.name, strict=True)
            }
        # Plain dicts: a pandas Series per row cost most of the harvest on large plants.
        for row in frame.to_dict("records"):
            space, external_id = row["space"], row["external_id"]
            parent = row.get("parent") if "parent" in fields else None
            parent_text = parents.get((space, parent), parent) if parent else None
            attributes = [row.get(f) for f in _ATTRIBUTE_FIELDS if f in fields and f != "level"]
            rows.append(
                {
                    "cls": cls,
                    "space": space,
                    "identifier": external_id,
                    "kind": "entity",
                    "entity_type": type_name,
                    "field": None,
                    "text": _text(
                        row.get("name"),
                        row.get("description"),
                        row.get("aliases"),
                        *attributes,
                        parent_text,
                    )
                    or str(external_id),
                    "keys": [external_id, *list(_list(row.get("aliases")))],
                    "label": _label(row, type_name),
                    "manufacturer": row.get("manufacturer"),
                    "model_number": row.get("model_number"),
                    "members": None,
                    "parent": parent if isinstance(parent, str) and parent else None,
                }
            )
    return pd.DataFrame(rows)


def _list(value: Any) -> list[str]:
    if value is None or value is pd.NA:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in list(value) if v is not None]
    except TypeError:
        return []


def _known_keys(entities: pd.DataFrame) -> dict[str, set[tuple[str, str]]]:
    known: dict[str, set[tuple[str, str]]] = {}
    for row in entities.itertuples():
        for key in row.keys:
            known.setdefault(row.cls, set()).add((row.space, key))
    return known


def reference_records(store: Store, entities: pd.DataFrame) -> pd.DataFrame:
    """References (relation fields, edge ends, free ``reference`` columns) their space lacks."""
    known = _known_keys(entities)
    classes_with_entities = set(entities.cls) if not entities.empty else set()
    found: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(cls: str, space: str, identifier: str, field: str, count: int) -> None:
        if not identifier or (space, identifier) in known.get(cls, set()):
            return
        key = (cls, space, identifier)
        if key not in found:
            found[key] = {
                "cls": cls,
                "space": space,
                "identifier": identifier,
                "kind": "reference",
                "entity_type": None,
                "field": field,
                "text": identifier,
                "keys": [identifier],
                "label": None,
                "manufacturer": None,
                "model_number": None,
                "members": None,
                "count": 0,
            }
        found[key]["count"] += count

    for entity in ENTITY_TYPES:
        if entity.name == "annotation":
            continue
        for relation in entity.relations:
            cls = CLASS_OF_TYPE.get(relation.ref or "")
            if cls in TARGET_ONLY:
                continue
            if cls is None and relation.ref in COMPATIBLE_CLASSES:
                # A reference to a type nobody holds names an entity of a compatible class only
                # (a storage location may be a machine, never a lot).
                held = store.query(f'SELECT count(*) AS n FROM "{relation.ref}"')["n"][0]
                cls = COMPATIBLE_CLASSES[str(relation.ref)] if not held else None
            if cls is None or cls not in classes_with_entities:
                continue
            frame = store.query(
                f'SELECT space, "{relation.name}" AS value, count(*) AS n FROM "{entity.name}" '
                f'WHERE "{relation.name}" IS NOT NULL GROUP BY ALL'
            )
            for space, value, count in frame.itertuples(index=False):
                add(cls, space, str(value), f"{entity.name}.{relation.name}", int(count))
        if "reference" in entity.field_names:
            frame = store.query(
                f'SELECT space, reference AS value, count(*) AS n FROM "{entity.name}" '
                "WHERE reference IS NOT NULL GROUP BY ALL"
            )
            for space, value, count in frame.itertuples(index=False):
                add(ANY_CLASS, space, str(value), f"{entity.name}.reference", int(count))
    for edge in EDGE_TYPES:
        for end, type_name in (("source", edge.source_type), ("target", edge.target_type)):
            cls = CLASS_OF_TYPE.get(type_name)
            if cls is None:
                continue
            frame = store.query(
                f"SELECT {end}_space AS space, {end}_external_id AS value, count(*) AS n "
                "FROM edge WHERE edge_type = ? GROUP BY ALL",
                [edge.name],
            )
            for space, value, count in frame.itertuples(index=False):
                add(cls, space, str(value), f"edge.{edge.name}.{end}", int(count))
    records = pd.DataFrame(list(found.values()))
    if not records.empty:
        # An unknown-type reference that a class of its own space already holds is resolved.
        resolved = records.apply(
            lambda r: (
                r.cls == ANY_CLASS
                and any((r.space, r.identifier) in keys for keys in known.values())
            ),
            axis=1,
        )
        records = records[~resolved]
        # The same string in the same space names the same thing: a typed reference wins.
        typed = set(
            zip(
                records[records.cls != ANY_CLASS].space,
                records[records.cls != ANY_CLASS].identifier,
                strict=True,
            )
        )
        duplicate = (records.cls == ANY_CLASS).to_numpy() & np.array(
            [
                (space, identifier) in typed
                for space, identifier in zip(records.space, records.identifier, strict=True)
            ]
        )
        records = records[~duplicate]
    return records.reset_index(drop=True)


_TAG_SEPARATOR = re.compile(r"[./:]")


def device_of(tag: str, depth: int) -> str:
    """The first ``depth`` segments of a tag path (at most all but its last segment)."""
    cuts = [m.start() for m in _TAG_SEPARATOR.finditer(tag)]
    if not cuts:
        return tag
    return tag[: cuts[min(depth, len(cuts)) - 1]]


def _device_depths(series: pd.DataFrame) -> dict[str, int]:
    """Per space, how many leading segments of its tags name the device.

    Historians write ``<device>.<signal>`` (``L3_PRS03.VIB_RMS``), but the device may itself be a
    path (``W1:PRESS12.HYD_P.PV``: site, device, signal, attribute). The depth chosen is the one
    at which most tags fall into groups of several tags whose signal names recur in other groups
    (a device has several signals; every press has ``HYD_P.PV``); ties go to the shallower depth.
    """
    depths: dict[str, int] = {}
    for space, part in series.groupby("space"):
        tags = part.external_id.astype(str).tolist()
        deepest = max((len(_TAG_SEPARATOR.findall(t)) for t in tags), default=1)
        best, best_cover = 1, -1
        for depth in range(1, max(deepest, 1) + 1):
            groups: dict[str, list[str]] = {}
            for tag in tags:
                device = device_of(tag, depth)
                groups.setdefault(device, []).append(tag[len(device) + 1 :])
            owners: dict[str, int] = {}
            for signals in groups.values():
                for signal in set(signals):
                    owners[signal] = owners.get(signal, 0) + 1
            cover = sum(
                sum(owners[signal] >= 2 for signal in signals)
                for signals in groups.values()
                if len(signals) >= 2
            )
            if cover > best_cover:
                best, best_cover = depth, cover
        depths[str(space)] = best
    return depths


def tag_group_records(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time series not on an asset by ingestion, grouped by their tag's device prefix.

    Historian tags follow a path (``L3_PRS03.VIB_RMS``: device, then signal): the part before the
    last separator names the device, and the descriptions of its tags describe it. A series that
    an approved link put on its asset is matched again like the others (its link is proposed and
    kept as it was), so that a review of it stays possible. Returns the group records (class
    ``asset``) and a table ``(space, tag, group)``.
    """
    series = store.query(
        "SELECT space, external_id, name, description, unit FROM time_series t "
        "WHERE asset IS NULL OR EXISTS (SELECT 1 FROM annotation a WHERE a.status = 'approved' "
        "AND a.source_kind = 'tag' AND a.source_space = t.space "
        "AND a.source_identifier = t.external_id AND a.target_external_id = t.asset)"
    )
    if series.empty:
        empty = pd.DataFrame(columns=["space", "tag", "group"])
        return pd.DataFrame(columns=list(RECORD_COLUMNS)), empty
    groups = pd.Series(
        [
            device_of(tag, depth)
            for tag, depth in zip(
                series.external_id, series.space.map(_device_depths(series)), strict=True
            )
        ],
        index=series.index,
    )
    series = series.assign(group=groups)
    members = series[series.group != series.external_id]
    rows = []
    for (space, group), part in members.groupby(["space", "group"]):
        rows.append(
            {
                "cls": "asset",
                "space": space,
                "identifier": group,
                "kind": "tag_group",
                "entity_type": None,
                "field": "time_series.external_id",
                "text": _text(*part.description.fillna("").tolist()) or group,
                "keys": [group],
                "label": None,
                "manufacturer": None,
                "model_number": None,
                "members": part.external_id.tolist(),
                "count": len(part),
            }
        )
    tags = members.rename(columns={"external_id": "tag"})[["space", "tag", "group"]]
    return pd.DataFrame(rows), tags.reset_index(drop=True)


def series_references(
    store: Store, entities: pd.DataFrame, references: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """References to an asset that name a time series: they stand for the series' asset.

    A historian writes its events (digital states, alarms) against the tag, so the tag appears
    where an asset is expected; the series says which asset it measures. Such a reference
    becomes a member of its asset's record and is linked wherever that asset is, instead of
    being matched on its own name. Returns the entities (with their new members), the remaining
    references and the membership ``(space, tag, group)``.
    """
    empty = pd.DataFrame(columns=["space", "tag", "group"])
    if references.empty or entities.empty:
        return entities, references, empty
    series = store.query(
        'SELECT space, external_id AS tag, asset AS "group" FROM time_series '
        "WHERE asset IS NOT NULL"
    )
    assets = entities[entities.cls == "asset"]
    known_assets = set(zip(assets.space, assets.identifier, strict=True))
    held = np.array(
        [
            (space, group) in known_assets
            for space, group in zip(series.space, series.group, strict=True)
        ],
        dtype=bool,
    )
    series = series[held]
    asset_references = references[references.cls == "asset"]
    named = series.merge(
        asset_references[["space", "identifier"]],
        left_on=["space", "tag"],
        right_on=["space", "identifier"],
    )[["space", "tag", "group"]]
    if named.empty:
        return entities, references, empty
    members = named.groupby(["space", "group"]).tag.agg(list).to_dict()
    entities = entities.copy()
    entities["members"] = [
        members.get((space, identifier), current) if cls == "asset" else current
        for cls, space, identifier, current in zip(
            entities.cls, entities.space, entities.identifier, entities.members, strict=True
        )
    ]
    moved = set(zip(named.space, named.tag, strict=True))
    keep = [
        not (cls == "asset" and (space, identifier) in moved)
        for cls, space, identifier in zip(
            references.cls, references.space, references.identifier, strict=True
        )
    ]
    return entities, references[keep].reset_index(drop=True), named.reset_index(drop=True)


def harvest(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return all records to match (entities, references, tag groups) and the tag membership."""
    entities = entity_records(store)
    if entities.empty:
        entities = pd.DataFrame(columns=[*RECORD_COLUMNS, "keys"])
    references = reference_records(store, entities)
    entities, references, named = series_references(store, entities, references)
    groups, tags = tag_group_records(store)
    if not named.empty:
        tags = pd.concat([tags, named], ignore_index=True)
    records = pd.concat(
        [frame for frame in (entities, references, groups) if not frame.empty], ignore_index=True
    )
    return records, tags
