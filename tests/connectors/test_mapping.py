from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from factorybrain.connectors import load_mapping
from factorybrain.exceptions import MappingError

Write = Callable[..., Path]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "entity: prodcut\nspace: e\nfields:\n  external_id: a\n",
            r"line 1: unknown entity 'prodcut' \(did you mean 'product'\?\)",
        ),
        (
            "entity: product\nspace: e\nfields:\n  external_id: a\n  nmae: b\n",
            r"line 5: product has no field 'nmae' \(did you mean 'name'\?\)",
        ),
        ("entity: product\nfields:\n  external_id: a\n", "missing required key 'space'"),
        (
            "entity: product\nspace: e\nfields:\n  name: a\n",
            "line 3: required field 'external_id' of product is not mapped",
        ),
        (
            "entity: product\nspace: e\nfields:\n  external_id: {column: a, value: b}\n",
            "line 4: field 'external_id': give exactly one of",
        ),
        (
            "entity: product\nspace: e\nsource: {timezone: Mars/Olympus}\nfields:\n"
            "  external_id: a\n",
            "line 3: unknown time zone 'Mars/Olympus'",
        ),
        (
            "entity: product\nspace: e\nsource: {format: xls}\nfields:\n  external_id: a\n",
            "line 3: unknown format 'xls'",
        ),
        (
            "entity: product\nspace: e\nfields:\n  external_id: a\n  standard_cost: "
            "{column: c, unit: parsec}\n",
            "line 5: field 'standard_cost' has no unit of its own",
        ),
        (
            "entity: asset\nspace: e\nfields:\n  external_id: a\n  level: {value: building}\n",
            "line 5: field 'level': 'building' is not one of",
        ),
        (
            "entity: product\nspace: e\nfields:\n  external_id: a\n  name: {column: b, unit: m}\n",
            "line 5: field 'name' is string; units apply to numbers only",
        ),
        ("entity: product\nspace: e\nfields: [a, b]\n", "line 3: 'fields' must map"),
        (
            "entity: product\nspace: e\nfields:\n  external_id: a\n    bad indent: x\n",
            "line 5: not valid YAML",
        ),
        (
            "entity: product\nspace: e\ncolumns: {}\nfields:\n  external_id: a\n",
            "line 3: unknown key 'columns'",
        ),
        (
            "entity: edge\nspace: e\nfields:\n  source_external_id: a\n  target_external_id: b\n",
            "'entity: edge' needs 'edge: <edge type>'",
        ),
    ],
)
def test_mistakes_name_the_file_line_and_field(write: Write, text: str, message: str) -> None:
    path = write("mapping.yaml", text)
    with pytest.raises(MappingError, match=message) as raised:
        load_mapping(path)
    assert str(path) in str(raised.value)


def test_a_valid_mapping_loads(write: Write) -> None:
    mapping = load_mapping(
        write(
            "m.yaml",
            """\
entity: asset
space: mes
source: {format: sqlite, table: machines, timezone: Europe/Berlin}
fields:
  external_id: "{line}-{code}"
  level: {value: equipment}
  ideal_cycle_seconds: {column: cycle, unit: min}
""",
        )
    )
    assert mapping.target == "asset"
    assert mapping.fields["external_id"].template == "{line}-{code}"
    assert mapping.fields["ideal_cycle_seconds"].to_unit == "s"
    assert mapping.source.table == "machines"


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "nope.yaml")
