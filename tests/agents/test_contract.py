from __future__ import annotations

from datetime import datetime

import pytest

from factorybrain.agents import (
    Action,
    ActionStateError,
    AgentRecords,
    AuditEntry,
    EntityRef,
    Evidence,
    Finding,
    Recommendation,
    RecordNotFoundError,
    Step,
    refs,
)
from factorybrain.exceptions import ParameterError

T0 = datetime(2026, 3, 2, 8, 0)
PRESS = EntityRef("asset", "press-3")


def _finding(**changes: object) -> Finding:
    base: dict[str, object] = {
        "agent": "maintenance",
        "kind": "maintenance.rul_low",
        "subject": PRESS,
        "severity": "high",
        "confidence": 0.8,
        "evidence": Evidence(refs(("time_series", "press-3.vibration")), {"rul_days": 9.5}, "x"),
    }
    base.update(changes)
    return Finding(**base)  # type: ignore[arg-type]


def test_finding_id_depends_on_what_it_is_not_on_when_or_how_bad() -> None:
    first = _finding(created_at=T0)
    later = _finding(created_at=datetime(2026, 3, 3), severity="critical", confidence=0.9)
    assert first.id == later.id
    assert _finding(dedup_key="2026-W10").id != first.id
    assert _finding(subject=EntityRef("asset", "press-4")).id != first.id
    assert _finding(agent="quality").id != first.id


def test_records_round_trip_through_dump_and_load() -> None:
    finding = _finding(created_at=T0, depth=2, caused_by="fnd-1", title="t")
    assert Finding.load(finding.dump()) == finding
    recommendation = Recommendation(
        "planning",
        (finding.id,),
        "composite",
        steps=(Step("notify", {"to": ["a"]}, {"x": 1}, "planning"),),
    )
    assert Recommendation.load(recommendation.dump()) == recommendation
    action = Action(recommendation.id, "composite", required_role="planner", proposed_at=T0)
    assert Action.load(action.dump()) == action
    entry = AuditEntry("user:ann", "action.approved", "action", action.id, T0, {"a": 1})
    assert AuditEntry.load(entry.dump()) == entry


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "rul_low"}, "namespaced kind"),
        ({"kind": "Maintenance.RUL"}, "namespaced kind"),
        ({"severity": "urgent"}, "severity must be one of"),
        ({"confidence": 1.5}, "confidence must be in"),
        ({"agent": ""}, "name of its agent"),
    ],
)
def test_invalid_findings_are_refused_with_the_field_named(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        _finding(**changes)


def test_composite_needs_steps_and_only_composites_have_steps() -> None:
    with pytest.raises(ParameterError, match="composite"):
        Recommendation("planning", (), "composite")
    with pytest.raises(ParameterError, match="composite"):
        Recommendation("planning", (), "notify", steps=(Step("notify"),))
    with pytest.raises(ParameterError, match="action_type"):
        Recommendation("planning", (), "Do Something!")


def test_action_state_machine_allows_only_the_documented_moves() -> None:
    action = Action("rec-1", "notify")
    approved = action.transition("approved", actor="user:ann", at=T0, comment="ok")
    assert (approved.state, approved.decided_by, approved.comment) == ("approved", "user:ann", "ok")
    executed = approved.transition("executed", actor="user:ann", at=T0, result={"n": 1})
    assert executed.result == {"n": 1}
    assert action.transition("rejected", actor="b", at=T0).state == "rejected"
    assert approved.transition("failed", actor="b", at=T0).state == "failed"
    with pytest.raises(ActionStateError) as error:
        action.transition("executed", actor="b", at=T0)
    assert action.id in str(error.value)
    assert "proposed -> executed" in str(error.value)
    for final in (executed, action.transition("rejected", actor="b", at=T0)):
        with pytest.raises(ActionStateError, match="final"):
            final.transition("approved", actor="b", at=T0)


def test_the_same_finding_reported_twice_is_one_finding(store) -> None:
    records = AgentRecords(store)
    stored, new = records.report_finding(_finding(), at=T0)
    again, new_again = records.report_finding(_finding(severity="critical"), at=T0.replace(hour=9))
    assert (new, new_again) == (True, False)
    assert records.count_findings() == 1
    assert again.created_at == T0  # the first sighting is kept
    assert records.finding(stored.id).severity == "critical"  # the evidence is refreshed
    assert records.finding(stored.id).evidence.numbers == {"rul_days": 9.5}
    assert records.count_audit(object_id=stored.id, verb="finding.reported") == 1
    assert records.finding(stored.id) == again  # the store gives back exactly what it took


def test_a_closed_finding_reported_again_reopens(store) -> None:
    records = AgentRecords(store)
    stored, _ = records.report_finding(_finding(), at=T0)
    records.set_finding_status(stored.id, "closed", actor="user:ann", at=T0)
    reopened, new = records.report_finding(_finding(), at=T0.replace(day=9))
    assert new and reopened.status == "open" and reopened.created_at == T0.replace(day=9)
    verbs = [e.verb for e in records.audit_log(object_id=stored.id)]
    assert verbs == ["finding.reopened", "finding.closed", "finding.reported"]


def test_proposing_twice_gives_one_action_and_every_move_is_audited(store) -> None:
    records = AgentRecords(store)
    recommendation = Recommendation("planning", ("fnd-1",), "notify", {"to": ["ann"]})
    records.save_recommendation(recommendation, at=T0)
    action, new = records.propose(recommendation, required_role="planner", actor="o", at=T0)
    same, new_again = records.propose(recommendation, required_role="planner", actor="o", at=T0)
    assert (new, new_again, same.id) == (True, False, action.id)
    records.transition(action.id, "approved", actor="user:ann", at=T0, comment="go")
    records.transition(action.id, "executed", actor="user:ann", at=T0, result={"ok": 1})
    with pytest.raises(ActionStateError, match="executed -> approved"):
        records.transition(action.id, "approved", actor="user:ann", at=T0)
    stored = records.action(action.id)
    assert (stored.state, stored.decided_by, stored.comment, stored.result) == (
        "executed",
        "user:ann",
        "go",
        {"ok": 1},
    )
    verbs = sorted(e.verb for e in records.audit_log(object_id=action.id))
    assert verbs == ["action.approved", "action.executed", "action.proposed"]
    assert records.recommendation(recommendation.id) == recommendation


def test_unknown_ids_raise_a_clear_error(store) -> None:
    records = AgentRecords(store)
    with pytest.raises(RecordNotFoundError, match="act-nope"):
        records.action("act-nope")
    with pytest.raises(RecordNotFoundError, match="finding"):
        records.finding("fnd-nope")


def test_public_api_is_pinned_and_sorted() -> None:
    import factorybrain.agents as agents
    import factorybrain.api as api
    import factorybrain.mcp as mcp

    for module in (agents, api, mcp):
        assert module.__all__ == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    assert {"Orchestrator", "Finding", "Recommendation", "Action", "register_agent"} <= set(
        agents.__all__
    )


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_words = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
    lambda w: w[0] != "_"
)
_numbers = st.dictionaries(_words, st.floats(allow_nan=False, allow_infinity=False), max_size=3)


@given(
    agent=_words,
    kind=st.tuples(_words, _words).map(".".join),
    subject=_words,
    severity=st.sampled_from(["info", "low", "medium", "high", "critical"]),
    confidence=st.floats(0, 1),
    numbers=_numbers,
    text=st.text(max_size=30),
    dedup_key=st.text(max_size=10),
)
def test_findings_round_trip_for_any_content(
    agent, kind, subject, severity, confidence, numbers, text, dedup_key
) -> None:
    finding = Finding(
        agent,
        kind,
        EntityRef("asset", subject),
        severity=severity,
        confidence=confidence,
        evidence=Evidence(refs(("asset", subject)), numbers, text),
        dedup_key=dedup_key,
        created_at=T0,
    )
    assert Finding.load(finding.dump()) == finding
    assert Finding.load(finding.dump()).id == finding.id
