from __future__ import annotations

import pytest

from factorybrain.context import approve, list_annotations, match, reject
from factorybrain.context._normalize import key_number, numbers, tokens
from factorybrain.exceptions import ParameterError
from tests.context._helpers import two_line_plant


def _links(run, status=None):
    frame = run.annotations
    if status:
        frame = frame[frame.status == status]
    return dict(zip(frame.source_identifier, frame.target_external_id, strict=True))


def test_codes_normalise_case_separators_and_zero_padding():
    assert tokens("L3_PRS03.VIB_RMS") == ["l", "3", "prs", "3", "vib", "rms"]
    assert key_number("0003100526") == key_number("B3100526") == key_number("3100526")
    assert "2540" in numbers("AquaCirc 25-40")


def _best(run, identifier):
    rows = run.annotations[run.annotations.source_identifier == identifier]
    return rows.sort_values("confidence", ascending=False).iloc[0]


def test_confusable_machines_are_told_apart_by_their_line(store):
    two_line_plant(store)
    run = match(store)
    # Same maker and model on every line: the line number decides between the lines.
    assert _best(run, "10004082").target_external_id.endswith("-02")
    assert _best(run, "10004099").target_external_id == "LTH-03"
    wrong = run.annotations[
        (run.annotations.status == "approved")
        & run.annotations.source_identifier.isin(["10004082", "10004099"])
        & ~run.annotations.target_external_id.isin(["PRS-02", "LTH-03"])
    ]
    assert wrong.empty


def test_historian_tags_get_the_asset_of_their_device(store):
    two_line_plant(store)
    run = match(store)
    assert _best(run, "L2_PRS02").target_external_id == "PRS-02"
    assert _best(run, "L2_PRS02.VIB_RMS").target_external_id == "PRS-02"
    assert _best(run, "L3_PRS03.RUN").target_external_id == "PRS-03"


def test_references_with_padding_prefixes_and_umlauts_are_linked(store):
    two_line_plant(store)
    approved = _links(match(store), "approved")
    assert approved["C100042"] == "0000100042"
    assert approved["C100056"] == "0000100056"
    assert approved["Krüger Heizung und Sanitär"] == "0000100042"


def test_rejected_link_is_never_suggested_again_and_reviews_survive_reruns(store):
    two_line_plant(store)
    match(store)
    links = list_annotations(store, status="approved", limit=None)
    wrong = links[links.source_identifier == "C100056"].id.tolist()
    right = links[links.source_identifier == "C100042"].id.tolist()
    reject(store, wrong, reviewer="ann")
    approve(store, right, reviewer="ann")
    match(store)
    after = list_annotations(store, status=None, limit=None)
    again = after[after.source_identifier == "C100056"]
    assert set(again[again.id.isin(wrong)].status) == {"rejected"}
    assert not ((again.target_external_id == "0000100056") & (again.status != "rejected")).any()
    kept = after[after.id.isin(right)]
    assert set(kept.status) == {"approved"} and set(kept.reviewed_by) == {"ann"}


def test_identifier_with_two_equal_candidates_is_flagged_not_approved(store):
    from tests.context._helpers import add

    two_line_plant(store)
    # Two customers with the same name: the CRM's name cannot decide between them.
    add(
        store,
        "customer",
        [{"space": "erp", "external_id": "0000100063", "name": "BRANDT INSTALLATIONS AG"}],
    )
    add(
        store,
        "warranty_claim",
        [{"space": "crm", "external_id": "WC-2", "customer": "Brandt Installations AG"}],
    )
    run = match(store)
    rows = run.annotations[run.annotations.source_identifier == "Brandt Installations AG"]
    assert len(rows) >= 2
    assert (rows.status == "suggested").all()


def test_thresholds_outside_zero_one_are_refused(store):
    with pytest.raises(ParameterError, match="threshold"):
        match(store, threshold=1.5)


def test_identity_scores_name_the_weakest_class(store):
    import pandas as pd

    from factorybrain.context import identity_scores

    two_line_plant(store)
    def entity(kind: str, canonical: str, **refs: str) -> dict:
        return {"type": kind, "id": canonical, "refs": {s: [n] for s, n in refs.items()}}

    truth = {
        "entities": [
            entity("equipment", "press-2", mes="PRS-02", erp="10004082"),
            entity("equipment", "lathe-3", mes="LTH-03", erp="10004099"),
            entity("customer", "krueger", erp="0000100042", wms="C100042"),
            entity("customer", "vogel", erp="0000100056", wms="C100056"),
        ]
    }
    links = pd.DataFrame(
        [
            ("erp", "10004082", "mes", "PRS-02"),  # right
            ("erp", "10004099", "mes", "PRS-02"),  # wrong: the lathe is not the press
            ("wms", "C100042", "erp", "0000100042"),  # right
        ],
        columns=["source_space", "source_identifier", "target_space", "target_external_id"],
    )
    scores = identity_scores(store, truth, annotations=links)
    equipment, customer = scores["by_class"]["equipment"], scores["by_class"]["customer"]
    assert (equipment["approved"], equipment["correct"]) == (2, 1)
    assert equipment["precision"] == 0.5
    assert customer["precision"] == 1.0
    assert customer["recall"] == 0.5  # C100056 was never linked


def test_an_approved_tag_link_puts_the_series_on_its_asset_and_a_rejection_takes_it_off(store):
    two_line_plant(store)
    ids = store.ensure_series("historian", ["L2_PRS02.VIB_RMS"], "test").column("series_id")
    assert ids[0].as_py() is not None
    match(store)

    def asset_of(tag):
        found = store.query("SELECT asset FROM time_series WHERE external_id = ?", [tag])
        return found["asset"].iloc[0]

    assert asset_of("L2_PRS02.VIB_RMS") == "PRS-02"  # approved as the matcher ran
    links = list_annotations(store, status="approved", limit=None)
    link = links[links.source_identifier == "L2_PRS02.VIB_RMS"].id.tolist()
    reject(store, link, reviewer="ann")
    assert asset_of("L2_PRS02.VIB_RMS") is None
    approve(store, link, reviewer="ann")
    assert asset_of("L2_PRS02.VIB_RMS") == "PRS-02"
