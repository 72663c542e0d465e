"""Questions in plain language, answered by :func:`factorybrain.ask.ask`.

Importing this module fails when the ask layer is not installed; the route is then absent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from factorybrain.api._deps import Access, Viewer
from factorybrain.api._schemas import Question
from factorybrain.ask import ask as ask_question

router = APIRouter(tags=["ask"])


@router.post("/ask")
def ask_route(_: Viewer, access: Access, body: Question) -> dict[str, Any]:
    """Answer a question from the factory model, citing the entities and numbers used.

    Uses the configured OpenAI-compatible model, or the built-in router without one.
    """
    with access.read() as (store, _records):
        return ask_question(store, body.question).as_dict()
