"""``ask`` answers field and process questions from the same queries as the REST routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factorybrain.ask import route
from factorybrain.store import DuckDBStore, open_store
from tests.agents.test_service import BAD_LOT
from tests.api.test_api_field_process import build_plant


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    store = open_store(tmp_path_factory.mktemp("ask-field") / "plant.duckdb", migrate=True)
    build_plant(store)
    yield store
    store.close()


def _mode(store: DuckDBStore) -> str:
    from factorybrain.insights import field_cohorts

    return str(field_cohorts(store)["items"][0]["failure_mode"])


@pytest.mark.parametrize(
    "question",
    [
        "which batch causes {mode} claims?",
        "Which lot is behind the {mode} claims?",
        "what causes our {mode} complaints",
    ],
)
def test_which_batch_causes_claims_names_the_bad_lot(plant: DuckDBStore, question: str) -> None:
    answer = route(plant, question.format(mode=_mode(plant)))
    assert answer.tool == "cohort_causes"
    assert BAD_LOT in answer.answer and "times the claim rate" in answer.answer
    assert {"type": "material_lot", "external_id": BAD_LOT, "space": "plant"} in answer.citations
    assert answer.numbers["rate_ratio"] > 3


def test_claims_of_a_mode_no_cohort_shows_say_so(plant: DuckDBStore) -> None:
    answer = route(plant, "which batch causes overheating claims?")
    assert answer.tool == "cohort_causes" and "No cohort stands out" in answer.answer
    assert _mode(plant) in answer.answer  # and what the clusters are about


@pytest.mark.parametrize(
    "question",
    [
        "what is the B10 life of product P1?",
        "What's the B10 of P1",
        "how reliable is P1 in the field?",
        "what is the B10 life of the booster pump?",  # by its (material's) name
    ],
)
def test_the_b10_life_comes_with_its_interval(plant: DuckDBStore, question: str) -> None:
    answer = route(plant, question)
    assert answer.tool == "b_life", answer.answer
    numbers = answer.numbers
    assert numbers["b10_low_days"] < numbers["b10_days"] < numbers["b10_high_days"]
    assert f"B10 life {numbers['b10_days']:.0f} days" in answer.answer
    assert "interval" in answer.answer


def test_an_unknown_product_lists_the_fitted_ones(plant: DuckDBStore) -> None:
    answer = route(plant, "what is the B10 life of product Zeppelin?")
    assert answer.tool == "b_life" and "P1" in answer.answer and "no product" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "which setpoints raise the yield of line 2?",
        "What settings would improve the efficiency on Line 2?",
        "which parameters should we change to raise the efficiency of Quiet Flow 9?",
    ],
)
def test_setpoints_that_raise_the_outcome_of_a_line(plant: DuckDBStore, question: str) -> None:
    answer = route(plant, question)
    assert answer.tool == "setpoints", answer.answer
    assert "QX-9" in answer.answer and "->" in answer.answer
    assert any(c["type"] == "recommendation" for c in answer.citations)
    if "yield" in question:  # the runs record efficiency, and the answer says so
        assert "hydraulic efficiency" in answer.answer and "record no yield" in answer.answer


def test_the_other_questions_still_reach_their_tools(plant: DuckDBStore) -> None:
    assert route(plant, "trace serial SN-000-01").tool == "trace"
    assert route(plant, "which machines will fail this month?").tool == "risks"


@pytest.mark.parametrize(
    "question",
    [
        "which supplier causes claims?",
        "Welcher Lieferant verursacht die Reklamationen?",
        "哪个供应商导致了索赔？",
        "wich suplier causes clams?",
    ],
)
def test_the_supplier_behind_claims_is_traced_through_its_lot(
    plant: DuckDBStore, question: str
) -> None:
    answer = route(plant, question)
    assert answer.tool == "claim_suppliers", answer.answer
    cited = {(c["type"], c["external_id"]) for c in answer.citations}
    assert ("supplier", "S1") in cited and ("material_lot", BAD_LOT) in cited
    assert ("supplier_lot", f"V-{BAD_LOT}") in cited and ("supplier", "S2") not in cited
    assert answer.numbers["claims:S1"] > 0
