from __future__ import annotations

import csv

import pytest

from factorybrain.context import export_csv, import_csv, list_annotations, match
from factorybrain.exceptions import ParameterError
from tests.context._helpers import two_line_plant


def test_csv_round_trip_applies_the_reviewers_decisions(store, tmp_path):
    two_line_plant(store)
    match(store)
    sheet = tmp_path / "review.csv"
    assert export_csv(store, sheet, status="suggested") > 0
    with sheet.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["status"] = "approved"
    rows[1]["status"] = "rejected"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    counts = import_csv(store, sheet, reviewer="ann")
    assert counts == {"approved": 1, "rejected": 1, "unknown": 0}
    reviewed = list_annotations(store, status=None, limit=None).set_index("id")
    assert reviewed.loc[rows[0]["id"], "status"] == "approved"
    assert reviewed.loc[rows[1]["id"], "reviewed_by"] == "ann"


def test_sheet_with_an_unknown_status_names_the_line(store, tmp_path):
    sheet = tmp_path / "bad.csv"
    sheet.write_text("id,status\nann-1,maybe\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="line 2"):
        import_csv(store, sheet)


def test_list_is_ordered_by_confidence_and_filtered(store):
    two_line_plant(store)
    match(store)
    frame = list_annotations(store, status=None, min_confidence=0.5, limit=None)
    assert (frame.confidence >= 0.5).all()
    assert list(frame.confidence) == sorted(frame.confidence, reverse=True)
