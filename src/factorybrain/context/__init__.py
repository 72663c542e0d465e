"""Context: entity matching across silos, the review loop, and trace queries on the genealogy.

Match every silo's identifiers to the entities of the factory model, review the links, and follow
the genealogy from a field failure back to the supplier batch (or from a lot forward to every
customer)::

    from factorybrain.context import match, list_annotations, approve, forward, claim_chain

    run = match(store)                   # annotations: approved above the threshold, else suggested
    todo = list_annotations(store, status="suggested", min_confidence=0.5)
    approve(store, todo.id[:10].tolist(), reviewer="ann")
    forward(store, "PB-25040-4").tables["serials"]
    claim_chain(store, "WC-000001").to_dict()
"""

from __future__ import annotations

from factorybrain.context._matching import MatchRun, annotation_id, match, write_annotations
from factorybrain.context._model import PairModel
from factorybrain.context._review import (
    ReviewResult,
    approve,
    export_csv,
    import_csv,
    list_annotations,
    reject,
)
from factorybrain.context._score import identity_scores
from factorybrain.context._trace import (
    GraphWalk,
    Trace,
    backward,
    claim_chain,
    forward,
    link_claim_serials,
    recall_scope,
    refresh_serial_index,
    resolve_serial,
    serial_letters,
    serial_letters_sql,
    unresolved_references,
    walk,
)

__all__ = [
    "GraphWalk",
    "MatchRun",
    "PairModel",
    "ReviewResult",
    "Trace",
    "annotation_id",
    "approve",
    "backward",
    "claim_chain",
    "export_csv",
    "forward",
    "identity_scores",
    "import_csv",
    "link_claim_serials",
    "list_annotations",
    "match",
    "recall_scope",
    "refresh_serial_index",
    "reject",
    "resolve_serial",
    "serial_letters",
    "serial_letters_sql",
    "unresolved_references",
    "walk",
    "write_annotations",
]
