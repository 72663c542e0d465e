"""XML sources: records by path and namespace, attributes, explode, limits and hostile documents."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from factorybrain.connectors import IngestReport, ingest, load_mapping, sniff
from factorybrain.connectors import _xml as xml
from factorybrain.exceptions import IngestError, MappingError
from factorybrain.store import DuckDBStore

Write = Callable[..., Path]

B2MML = "http://www.mesa.org/xml/B2MML"
OTHER = "urn:example:other"

#: A production performance document: a default namespace, a prefixed one, attributes, one
#: segment with a single MaterialActual, one with two, and a response with no segment at all.
PERFORMANCE = f"""<?xml version="1.0" encoding="UTF-8"?>
<ProductionPerformance xmlns="{B2MML}" xmlns:o="{OTHER}">
  <ID>PERF-1</ID>
  <ProductionResponse>
    <ID schemeName="MES">RESP-1</ID>
    <ProductionRequestID>WO-1</ProductionRequestID>
    <SegmentResponse>
      <ID>SEG-1</ID>
      <ActualStartTime>2025-03-01T06:00:00Z</ActualStartTime>
      <MaterialActual>
        <MaterialLotID>LOT-A</MaterialLotID>
        <Quantity unitOfMeasure="kg"><QuantityString>2.5</QuantityString></Quantity>
      </MaterialActual>
    </SegmentResponse>
    <SegmentResponse>
      <ID>SEG-2</ID>
      <ActualStartTime>2025-03-01T07:00:00Z</ActualStartTime>
      <MaterialActual>
        <MaterialLotID>LOT-B</MaterialLotID>
        <Quantity unitOfMeasure="kg"><QuantityString>1</QuantityString></Quantity>
      </MaterialActual>
      <MaterialActual>
        <MaterialLotID>LOT-C</MaterialLotID>
        <Quantity unitOfMeasure="L"><QuantityString>four</QuantityString></Quantity>
      </MaterialActual>
    </SegmentResponse>
  </ProductionResponse>
  <ProductionResponse>
    <ID>RESP-2</ID>
    <ProductionRequestID>WO-2</ProductionRequestID>
  </ProductionResponse>
  <o:ProductionResponse>
    <o:ID>NOT-B2MML</o:ID>
  </o:ProductionResponse>
</ProductionPerformance>
"""

GENEALOGY = """\
entity: edge
edge: consumed_in
space: mes
source:
  format: xml
  namespaces: {b2mml: "NAMESPACE"}
  records: /b2mml:ProductionPerformance/b2mml:ProductionResponse
  explode: [SegmentResponse, SegmentResponse.MaterialActual]
fields:
  source_external_id: SegmentResponse.MaterialActual.MaterialLotID
  target_external_id: ProductionRequestID
  quantity: SegmentResponse.MaterialActual.Quantity.QuantityString
  start_time: SegmentResponse.ActualStartTime
  properties:
    expr: >-
      '{"unit": "' || "SegmentResponse.MaterialActual.Quantity.@unitOfMeasure"
      || '", "scheme": "' || "ID.@schemeName" || '"}'
""".replace("NAMESPACE", B2MML)

ORDERS = """\
entity: work_order
space: mes
source: {{format: xml, records: "{records}"{extra}}}
fields:
  external_id: {field}
"""


def _accounted(report: IngestReport) -> None:
    assert report.rows_read == (
        report.inserted
        + report.updated
        + report.unchanged
        + report.merged
        + report.filtered
        + report.quarantined
    )


def _orders(store: DuckDBStore) -> list[str]:
    return store.query("SELECT external_id FROM work_order ORDER BY 1").external_id.tolist()


def _quarantine(store: DuckDBStore) -> list[dict[str, Any]]:
    return store.query(
        "SELECT row_number, field, reason, raw FROM quarantine ORDER BY row_number"
    ).to_dict(orient="records")


def test_records_by_namespaced_path_with_attributes_and_explode(
    store: DuckDBStore, write: Write
) -> None:
    report = ingest(store, write("perf.xml", PERFORMANCE), write("m.yaml", GENEALOGY))
    _accounted(report)
    # Two B2MML responses are records (the one in another namespace is not); the first gives a
    # row per MaterialActual, the single one of SEG-1 included, the second none (counted).
    assert (report.records_read, report.rows_read) == (2, 4)
    assert (report.inserted, report.filtered, report.quarantined) == (2, 1, 1)
    assert report.filtered_by_reason == {"no items under 'SegmentResponse' (missing)": 1}
    edges = store.query(
        "SELECT source_external_id, target_external_id, quantity, start_time, properties "
        "FROM edge ORDER BY 1"
    )
    assert edges[["source_external_id", "target_external_id", "quantity"]].values.tolist() == [
        ["LOT-A", "WO-1", 2.5],
        ["LOT-B", "WO-1", 1.0],
    ]
    assert str(edges.start_time[1]) == "2025-03-01 07:00:00"
    # attributes: of an element with children (Quantity), and of a leaf beside its text (ID)
    assert json.loads(edges.properties[0]) == {"unit": "kg", "scheme": "MES"}
    [bad] = _quarantine(store)
    assert (bad["row_number"], bad["field"]) == (1, "quantity")  # the record's ordinal
    raw = json.loads(bad["raw"])
    assert raw["(item)"] == "2.2"  # second segment, second MaterialActual
    assert raw["SegmentResponse.MaterialActual.Quantity.QuantityString"] == "four"


def test_a_path_without_a_slash_finds_records_at_any_depth(
    store: DuckDBStore, write: Write
) -> None:
    source = write("perf.xml", PERFORMANCE)
    # No prefix: the local name in any namespace, the document's default one included.
    mapping = write("m.yaml", ORDERS.format(records="ProductionResponse", extra="", field="ID"))
    report = ingest(store, source, mapping)
    assert report.records_read == 3
    assert _orders(store) == ["NOT-B2MML", "RESP-1", "RESP-2"]


def test_a_declared_prefix_matches_its_namespace_only(store: DuckDBStore, write: Write) -> None:
    source = write("perf.xml", PERFORMANCE)
    extra = f', namespaces: {{o: "{OTHER}", b: ["urn:x", "{B2MML}"]}}'
    other = ORDERS.format(records="o:ProductionResponse", extra=extra, field="ID")
    ingest(store, source, write("o.yaml", other))
    assert _orders(store) == ["NOT-B2MML"]
    broken = ORDERS.format(records="//o:ProductionResponse", extra=extra, field="ID")
    with pytest.raises(MappingError, match="line 3: 'records': .* is no path of elements"):
        load_mapping(write("bad.yaml", broken))
    # a prefix may stand for several namespaces (versions of one schema)
    b2mml = ORDERS.format(records="/b:ProductionPerformance/b:ProductionResponse", extra=extra,
                          field="ProductionRequestID")  # fmt: skip
    report = ingest(store, source, write("b.yaml", b2mml))
    assert report.records_read == 2
    assert _orders(store) == ["NOT-B2MML", "WO-1", "WO-2"]


def test_a_prefix_that_is_not_declared_is_a_mistake_of_the_mapping(write: Write) -> None:
    mapping = write("m.yaml", ORDERS.format(records="/x:Orders/x:Order", extra="", field="ID"))
    with pytest.raises(MappingError, match=r"m.yaml line 3: 'records': the prefix 'x' .* not "):
        load_mapping(mapping)


def test_a_wrong_path_is_named_not_read_as_an_empty_export(
    store: DuckDBStore, write: Write
) -> None:
    source = write("perf.xml", PERFORMANCE)
    wrong = ORDERS.format(records="/Performance/ProductionResponse", extra="", field="ID")
    with pytest.raises(IngestError, match=r"no element is where 'records: /Performance/.*root "):
        ingest(store, source, write("m.yaml", wrong))
    empty = write(
        "empty.xml", f'<ProductionPerformance xmlns="{B2MML}"><ID>P</ID></ProductionPerformance>'
    )
    right = ORDERS.format(records="/ProductionPerformance/ProductionResponse", extra="", field="ID")
    report = ingest(store, empty, write("ok.yaml", right))
    assert (report.records_read, report.rows_read) == (0, 0)


def test_an_element_no_record_has_is_an_empty_column(store: DuckDBStore, write: Write) -> None:
    # XML leaves optional elements out: a column no record has is empty, not a missing column.
    source = write(
        "orders.xml", "<Orders><Order><ID>W1</ID></Order><Order><ID>W2</ID></Order></Orders>"
    )
    mapping = write(
        "m.yaml",
        "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n  priority: Priority\n",
    )
    report = ingest(store, source, mapping)  # format from the extension, records: every child
    assert (report.records_read, report.inserted) == (2, 2)
    assert store.query("SELECT count(priority) AS n FROM work_order").n[0] == 0


def test_repeated_leaves_explode_and_a_single_one_is_a_list_of_one(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "serials.xml",
        "<Lots><Lot><ID>L1</ID><SubLotID>S1</SubLotID><SubLotID>S2</SubLotID></Lot>"
        "<Lot><ID>L2</ID><SubLotID>S3</SubLotID></Lot><Lot><ID>L3</ID></Lot></Lots>",
    )
    mapping = write(
        "m.yaml",
        "entity: serial_unit\nspace: mes\nsource: {explode: SubLotID}\n"
        "fields:\n  external_id: SubLotID\n  serial_number: '{ID}-{SubLotID}'\n",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    assert (report.records_read, report.rows_read, report.filtered) == (3, 4, 1)
    units = store.query("SELECT external_id, serial_number FROM serial_unit ORDER BY 1")
    assert units.values.tolist() == [["S1", "L1-S1"], ["S2", "L1-S2"], ["S3", "L2-S3"]]


def test_text_of_a_record_and_of_an_element_with_children(write: Write) -> None:
    path = write("mixed.xml", "<Notes><Note by='QA'>check <b>now</b></Note><Note>ok</Note></Notes>")
    reader = xml.RecordReader(path, xml.RecordSpec(xml.parse_record_path("/*/*", {})))
    assert list(reader) == [{"@by": "QA", "b": "now", "#text": "check"}, {"#text": "ok"}]
    assert reader.sha256 is not None and len(reader.sha256) == 64


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Orders><Order><ID>&lol9;</ID></Order></Orders>
"""


def test_a_billion_laughs_document_is_refused_naming_the_file_and_the_entity(
    store: DuckDBStore, write: Write
) -> None:
    source = write("bomb.xml", BILLION_LAUGHS)
    mapping = write("m.yaml", "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n")
    with pytest.raises(IngestError) as refused:
        ingest(store, source, mapping)
    message = str(refused.value)
    assert message.startswith(f"{source}: refused: the document declares the entity 'lol'")
    assert "billion laughs" in message and "no DTD" in message
    assert store.query("SELECT count(*) AS n FROM work_order").n[0] == 0
    with pytest.raises(IngestError, match="refused: the document declares the entity 'lol'"):
        sniff(source)  # a first look refuses it too


def test_an_external_entity_is_refused_and_the_file_it_names_is_never_read(
    store: DuckDBStore, write: Write, tmp_path: Path
) -> None:
    secret = write("secret.txt", "password=hunter2")
    source = write(
        "xxe.xml",
        f'<?xml version="1.0"?>\n<!DOCTYPE Orders [<!ENTITY leak SYSTEM "file://{secret}">]>\n'
        "<Orders><Order><ID>&leak;</ID></Order></Orders>\n",
    )
    mapping = write("m.yaml", "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n")
    with pytest.raises(IngestError) as refused:
        ingest(store, source, mapping)
    message = str(refused.value)
    assert f"{source}: refused: the document declares the external entity 'leak'" in message
    assert f"file://{secret}" in message and "hunter2" not in message
    failed = store.query("SELECT status FROM ingest_report").status.tolist()
    assert failed and "hunter2" not in failed[0]


def test_a_plain_dtd_is_refused_too(store: DuckDBStore, write: Write) -> None:
    source = write("dtd.xml", '<!DOCTYPE Orders SYSTEM "orders.dtd">\n<Orders><Order/></Orders>')
    mapping = write("m.yaml", "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n")
    with pytest.raises(IngestError, match=r"refused: the document has a document type "):
        ingest(store, source, mapping)


def test_depth_and_record_size_limits_stop_the_read_with_what_to_change(
    store: DuckDBStore, write: Write
) -> None:
    deep = "<a>" * 70 + "</a>" * 70
    source = write("deep.xml", f"<Orders><Order><ID>W1</ID>{deep}</Order></Orders>")
    plain = "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n"
    with pytest.raises(IngestError, match=r"nested deeper than 64 levels .*max_depth"):
        ingest(store, source, write("m.yaml", plain))
    deeper = plain.replace("fields:", "source: {max_depth: 80}\nfields:")
    assert ingest(store, source, write("deeper.yaml", deeper)).inserted == 1
    small = plain.replace("fields:", "source: {max_record_elements: 20}\nfields:")
    with pytest.raises(IngestError, match=r"record 1 \(<Order>\) has more than 20 elements"):
        ingest(store, source, write("small.yaml", small))
    with pytest.raises(MappingError, match="'max_depth' takes a whole number from 1, found 0"):
        load_mapping(
            write("zero.yaml", plain.replace("fields:", "source: {max_depth: 0}\nfields:"))
        )


def test_a_broken_document_names_its_line(store: DuckDBStore, write: Write) -> None:
    source = write(
        "broken.xml", "<Orders>\n<Order><ID>W1</ID></Order>\n<Order><ID>W2</Order>\n</Orders>"
    )
    mapping = write("m.yaml", "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n")
    with pytest.raises(
        IngestError, match=r"broken.xml: not well-formed XML: mismatched tag: line 3"
    ):
        ingest(store, source, mapping)


def test_xml_is_told_by_its_content_whatever_its_name(store: DuckDBStore, write: Write) -> None:
    source = write("orders.txt", "<?xml version='1.0'?><Orders><Order><ID>W1</ID></Order></Orders>")
    csv = write("csv.yaml", "entity: work_order\nspace: mes\nfields:\n  external_id: ID\n")
    with pytest.raises(IngestError, match="expected CSV text, but its content is an XML document"):
        ingest(store, source, csv)
    [shape] = sniff(source)
    assert (shape.format, shape.root, shape.records) == ("xml", "Orders", "/Orders/Order")
    assert shape.columns == ("ID",)


def test_one_parse_serves_every_mapping_of_a_load(
    store: DuckDBStore, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write("perf.xml", PERFORMANCE)
    parses = []
    guard = xml._guard
    monkeypatch.setattr(xml, "_guard", lambda stream: parses.append(1) or guard(stream))
    first = ingest(store, source, write("m.yaml", GENEALOGY))
    orders = GENEALOGY.split("  explode:")[0].replace(
        "entity: edge\nedge: consumed_in", "entity: work_order"
    )
    orders += "fields:\n  external_id: ProductionRequestID\n"
    with xml.parse_once():
        again = ingest(store, source, write("m.yaml", GENEALOGY))
        ingest(store, source, write("o.yaml", orders))
    assert len(parses) == 2  # once outside, once for both mappings inside
    assert (again.rows_read, again.unchanged, again.file_sha256) == (
        first.rows_read,
        first.inserted,
        first.file_sha256,
    )


# -- recursive hierarchies -------------------------------------------------------------------------
HIERARCHY = """\
entity: asset
space: plant
source: {records: /Tree/Node, recursive: {name: Name}, max_record_elements: 3}
fields:
  external_id: "#path"
  name: Name
  parent: "#parent.#path"
  level: {expr: "CASE \\"#depth\\" WHEN 1 THEN 'site' WHEN 2 THEN 'line' ELSE 'equipment' END"}
  asset_class: "#parent.Kind"
  description: "@id"
"""


def _tree(depth: int) -> str:
    """A hierarchy ``depth`` levels deep: two elements under each above the last, one name each."""

    def node(number: str, level: int) -> str:
        below = "".join(node(f"{number}.{i}", level + 1) for i in (1, 2)) if level < depth else ""
        name = "Plant" if level == 1 else f"Unit {number[-1]}"  # "Unit 1" under every parent
        return f"<Node id='{number}'><Name>{name}</Name><Kind>level {level}</Kind>{below}</Node>"

    return f"<?xml version='1.0'?>\n<Tree>{node('1', 1)}</Tree>\n"


def _expected(document: Path) -> list[list[Any]]:
    """(path, parent's path, id, level) of every <Node>, walked here with the standard library."""
    rows: list[list[Any]] = []

    def walk(element: Any, parent: str | None, level: int) -> None:
        path = (
            element.findtext("Name") if parent is None else f"{parent}/{element.findtext('Name')}"
        )
        rows.append([path, parent, element.get("id"), level])
        for child in element.findall("Node"):
            walk(child, path, level + 1)

    walk(ElementTree.parse(document).getroot().find("Node"), None, 1)
    return sorted(rows)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 6])
def test_every_element_of_a_recursive_hierarchy_is_a_record_of_its_own(
    store: DuckDBStore, write: Write, depth: int
) -> None:
    source = write("tree.xml", _tree(depth))
    report = ingest(store, source, write("m.yaml", HIERARCHY))
    _accounted(report)
    elements = 2**depth - 1
    # One record per element, each of three elements: the limit is per record, the elements of
    # the records nested in it are theirs.
    assert (report.records_read, report.rows_read, report.inserted) == (elements,) * 3
    stored = store.query_rows(
        "SELECT external_id, parent, description, level, asset_class FROM asset ORDER BY 1"
    )
    levels = {1: "site", 2: "line"}
    assert [
        [row["external_id"], row["parent"], row["description"], row["level"]] for row in stored
    ] == [
        [path, parent, number, levels.get(level, "equipment")]
        for path, parent, number, level in _expected(source)
    ]
    # '#parent.' is what the parent wrote: its Kind names the level above
    assert [row["asset_class"] for row in stored] == [
        None if row["parent"] is None else f"level {row['external_id'].count('/')}"
        for row in stored
    ]
    if depth >= 3:  # the same name under two parents: two records, told apart by their paths
        assert {"Plant/Unit 1/Unit 1", "Plant/Unit 2/Unit 1"} <= {r["external_id"] for r in stored}
    assert ingest(store, source, write("m.yaml", HIERARCHY)).unchanged == elements


def test_a_nested_record_is_no_part_of_the_one_around_it_and_knows_its_parent(
    write: Write,
) -> None:
    path = write(
        "areas.xml",
        "<Plant site='Linz'><Area code='A'><Name>Assembly</Name><Lines><Area><Name>Line 1</Name>"
        "<Speed>5</Speed></Area></Lines><Note>after its lines</Note></Area>"
        "<Area><Name>Paint</Name></Area></Plant>",
    )
    spec = xml.RecordSpec(xml.parse_record_path("Area", {}), recursive=xml.Recursive("Name", " > "))
    assembly = {"@code": "A", "Name": "Assembly", "#depth": "1", "#path": "Assembly"}
    root = {"#root": {"@site": "Linz"}}  # every record has the root element's attributes
    # A record ends after the records nested in it, so it comes after them; its number says
    # where it starts. A nested record learns what its parent wrote before it (not the Note).
    assert list(xml.RecordReader(path, spec).numbered()) == [
        (
            2,
            {
                "Name": "Line 1",
                "Speed": "5",
                "#depth": "2",
                "#path": "Assembly > Line 1",
                "#parent": assembly,
                **root,
            },
        ),
        (1, {**assembly, "Lines": None, "Note": "after its lines", **root}),
        (3, {"Name": "Paint", "#depth": "1", "#path": "Paint", **root}),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            "<Plant><Area><Area><Name>Line 1</Name></Area><Name>Assembly</Name></Area></Plant>",
            "record 1 (<Area>) writes its 'Name' ('Assembly') after a record nested in it",
        ),
        (
            "<Plant><Area><Name>A</Name><Name>B</Name></Area></Plant>",
            "record 1 (<Area>): its 'Name' names it in its '#path', so it must be one text; "
            "found several of them",
        ),
    ],
)
def test_a_name_a_hierarchy_cannot_read_stops_the_read_naming_the_record(
    store: DuckDBStore, write: Write, document: str, message: str
) -> None:
    mapping = HIERARCHY.replace("/Tree/Node", "Area").replace(", max_record_elements: 3", "")
    with pytest.raises(IngestError, match=re.escape(f"areas.xml: {message}")):
        ingest(store, write("areas.xml", document), write("m.yaml", mapping))


@pytest.mark.parametrize(
    ("source", "field", "message"),
    [
        (
            "{recursive: Name}",
            "external_id: ID",
            "line 3: 'recursive' takes {name: <the child element or @attribute that names "
            "each record>",
        ),
        (
            "{format: csv, recursive: {name: Name}}",
            "external_id: ID",
            "line 3: 'recursive' reads the records nested in records of an XML document; found "
            "format 'csv'",
        ),
        (
            "{records: Node}",
            "external_id: '#path'",
            "line 5: field 'external_id' reads '#path', a pseudo-field of a record in a "
            "recursive hierarchy; add 'source: {recursive: {name: <the child that names each "
            "record>}}'",
        ),
    ],
)
def test_a_recursive_source_is_checked_with_the_mapping(
    write: Write, source: str, field: str, message: str
) -> None:
    text = f"entity: asset\nspace: plant\nsource: {source}\nfields:\n  {field}\n"
    text += "  level: {value: site}\n"
    with pytest.raises(MappingError, match=re.escape(f"m.yaml {message}")):
        load_mapping(write("m.yaml", text))


def test_a_column_picks_an_item_of_a_repeated_element_by_what_it_holds(
    store: DuckDBStore, write: Write
) -> None:
    source = write(
        "machines.xml",
        "<Machines><Machine><ID>M1</ID>"
        "<Property><Name>Maker</Name><Value>Hartl</Value></Property>"
        "<Property><Name>Model no.</Name><Value unit='-'>HBZ 500</Value></Property>"
        "<Link system='ERP'><ID>10000116</ID></Link><Link system='CMMS'><ID>77</ID></Link>"
        "</Machine><Machine><ID>M2</ID>"
        "<Property><Name>Maker</Name><Value>Lenz</Value></Property></Machine>"
        "<Machine><ID>M3</ID><Property><Name>maker</Name><Value>lower case</Value></Property>"
        "</Machine></Machines>",
    )
    mapping = write(
        "m.yaml",
        """\
entity: asset
space: plant
fields:
  external_id: ID
  level: {value: equipment}
  manufacturer: Property[Name=Maker].Value
  model_number: Property[Name=Model no.].Value
  aliases: {columns: ["Link[@system=ERP].ID"]}
""",
    )
    report = ingest(store, source, mapping)
    _accounted(report)
    stored = store.query_rows(
        "SELECT external_id, manufacturer, model_number, aliases FROM asset ORDER BY 1"
    )
    # the value is compared exactly (M3's 'maker' is another name); one item is picked too
    assert [list(row.values()) for row in stored] == [
        ["M1", "Hartl", "HBZ 500", ["10000116"]],
        ["M2", "Lenz", None, []],
        ["M3", None, None, []],
    ]
