"""Property-based checks of the pieces every ingest relies on: units, time zones, mappings."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factorybrain.connectors import affine, ingest
from factorybrain.store import open_store

UNITS = st.sampled_from(
    [
        ("degC", "degF"),
        ("degF", "K"),
        ("bar", "psi"),
        ("kPa", "bar"),
        ("min", "s"),
        ("h", "min"),
        ("lb", "kg"),
        ("mm", "inch"),
        ("l/min", "m**3/s"),
        ("kW", "hp"),
    ]
)
FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(UNITS, FINITE)
def test_unit_round_trip(pair: tuple[str, str], value: float) -> None:
    there, back = affine(*pair), affine(pair[1], pair[0])
    converted = there[0] * value + there[1]
    assert back[0] * converted + back[1] == pytest.approx(value, rel=1e-9, abs=1e-6)


@given(UNITS)
def test_conversion_composes(pair: tuple[str, str]) -> None:
    factor, offset = affine(*pair)
    assert factor != 0
    identity = affine(pair[0], pair[0])
    assert identity == (1.0, 0.0)


ZONES = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/Chicago", "Asia/Kolkata", "Australia/Adelaide"]
)
LOCAL_TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(zone=ZONES, local=LOCAL_TIMES)
def test_local_times_become_utc(
    tmp_path_factory: pytest.TempPathFactory, zone: str, local: datetime
) -> None:
    local = local.replace(microsecond=0)
    aware = local.replace(tzinfo=ZoneInfo(zone))
    # Skip wall-clock times that do not exist or exist twice (DST changes): ambiguous by nature.
    round_trip = aware.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    if round_trip != local or aware.dst() != (aware + timedelta(hours=1)).dst():
        return
    folder = tmp_path_factory.mktemp("tz")
    (folder / "m.yaml").write_text(
        f"entity: work_order\nspace: s\nsource: {{timezone: {zone}}}\n"
        "fields:\n  external_id: id\n  release_at: at\n"
    )
    (folder / "w.csv").write_text(f"id,at\nW,{local:%Y-%m-%d %H:%M:%S}\n")
    with open_store(":memory:", migrate=True) as store:
        ingest(store, folder / "w.csv", folder / "m.yaml")
        stored = store.query("SELECT release_at FROM work_order")["release_at"][0]
    assert stored.to_pydatetime() == aware.astimezone(UTC).replace(tzinfo=None)


IDENTIFIER = (
    st.text(alphabet=string.ascii_letters + string.digits + "-_./ ", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(IDENTIFIER, IDENTIFIER, FINITE), min_size=1, max_size=30))
def test_any_clean_table_round_trips_through_a_template_mapping(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, float]]
) -> None:
    folder: Path = tmp_path_factory.mktemp("map")
    (folder / "m.yaml").write_text(
        'entity: product\nspace: s\nfields:\n  external_id: "{a}|{b}"\n  standard_cost: c\n'
    )
    lines = ["a,b,c"] + [f'"{a}","{b}",{c!r}' for a, b, c in rows]
    (folder / "p.csv").write_text("\n".join(lines) + "\n")
    with open_store(":memory:", migrate=True) as store:
        report = ingest(store, folder / "p.csv", folder / "m.yaml")
        expected = {f"{a}|{b}": c for a, b, c in rows}  # the last row of a key wins
        assert report.rows_read == len(rows)
        assert report.inserted == len(expected)
        assert report.quarantined == len(rows) - len(expected)
        frame = store.query("SELECT external_id, standard_cost FROM product")
        stored = dict(zip(frame["external_id"], frame["standard_cost"], strict=True))
    assert stored.keys() == expected.keys()
    for key, value in expected.items():
        assert stored[key] == pytest.approx(value)
