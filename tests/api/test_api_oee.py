from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factorybrain.api import TokenStore, create_app
from factorybrain.connectors import load_plant
from factorybrain.exceptions import NoDataError
from factorybrain.store import open_store

EXAMPLE = Path(__file__).resolve().parents[2] / "src/factorybrain/examples/small_plant/plant.yaml"


def test_oee_of_a_plant_without_machine_states_is_empty_with_a_note(tmp_path: Path) -> None:
    plant_oee = pytest.importorskip("factorybrain.agents.planning").plant_oee
    with open_store(":memory:", migrate=True) as store:
        load_plant(store, EXAMPLE)
        with pytest.raises(NoDataError, match="no machines"):
            plant_oee(store)  # the library says why (the CLI prints it)
        tokens = TokenStore(store)
        token = tokens.create("viewer", "viewer")
        client = TestClient(create_app(store, tokens=tokens))
        response = client.get("/api/v1/oee", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [] and "no machines" in body["note"]
