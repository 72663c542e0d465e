"""Findings age: newer warnings replace older ones, normal data resolves them, proposals expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from factorybrain.agents import (
    AgentRecords,
    BaseAgent,
    EntityRef,
    Evidence,
    Finding,
    Orchestrator,
    Recommendation,
)

T0 = datetime(2026, 3, 2, 8, 0)


def _warning(hours: int, *, status: str = "open") -> Finding:
    return Finding(
        "watcher",
        "watcher.wear",
        EntityRef("asset", "PRESS-3"),
        severity="high",
        evidence=Evidence(text=f"wear seen at +{hours} h"),
        dedup_key=f"episode-{hours}",
        created_at=T0 + timedelta(hours=hours),
        status=status,
        title=f"PRESS-3 wears (+{hours} h)",
    )


class _Watcher(BaseAgent):
    """Warns of wear and asks for an inspection; says when a warning's data is normal again."""

    name = "watcher"
    supersedes = ("watcher.wear",)

    def __init__(self, batches: list[list[Finding]]) -> None:
        self.batches = batches

    def run(self, context):
        for finding in self.batches.pop(0):
            yield finding
            if finding.status == "open":
                yield Recommendation(
                    self.name,
                    (finding.id,),
                    "notify",
                    parameters={"message": finding.title},
                    title=f"Inspect: {finding.title}",
                )


def test_a_newer_warning_supersedes_the_older_and_its_stale_proposal_expires(store) -> None:
    first, second = _warning(1), _warning(30)
    orchestrator = Orchestrator(store, [_Watcher([[first], [second]])], clock=lambda: T0)
    orchestrator.run(at=T0 + timedelta(hours=2))
    records = AgentRecords(store)
    (proposal,) = records.actions(state="proposed")
    orchestrator.run(at=T0 + timedelta(hours=31))
    assert records.finding(first.id).status == "superseded"
    assert records.finding(second.id).status == "open"
    (entry,) = records.audit_log(object_id=first.id, verb="finding.superseded")
    assert entry.details["by"] == second.id
    # what the planner would have approved for the first warning no longer applies
    assert records.action(proposal.id).state == "superseded"
    assert [a.state for a in records.actions(state="proposed")] == ["proposed"]


def test_an_older_warning_reported_late_is_superseded_at_once(store) -> None:
    late, newer = _warning(1), _warning(30)
    orchestrator = Orchestrator(store, [_Watcher([[newer], [late]])], clock=lambda: T0)
    orchestrator.run(at=T0 + timedelta(hours=31))
    report = orchestrator.run(at=T0 + timedelta(hours=32))
    records = AgentRecords(store)
    assert records.finding(late.id).status == "superseded" and late.id not in report.findings
    assert records.finding(newer.id).status == "open"


def test_normal_data_resolves_a_warning_and_a_repeat_reopens_it(store) -> None:
    warning = _warning(1)
    normal = _warning(1, status="resolved")
    batches = [[warning], [normal], [warning]]
    orchestrator = Orchestrator(store, [_Watcher(batches)], clock=lambda: T0)
    orchestrator.run(at=T0 + timedelta(hours=2))
    report = orchestrator.run(at=T0 + timedelta(hours=5))
    records = AgentRecords(store)
    assert records.finding(warning.id).status == "resolved"
    assert report.resolved == [warning.id]
    assert records.action(records.actions(limit=None)[0].id).state == "superseded"
    (entry,) = records.audit_log(object_id=warning.id, verb="finding.resolved")
    assert entry.details["before"] == "open"
    orchestrator.run(at=T0 + timedelta(hours=9))  # the wear is back
    assert records.finding(warning.id).status == "open"


def test_findings_list_the_newest_data_first_whenever_they_were_recorded(store) -> None:
    records = AgentRecords(store)
    later, earlier = _warning(30), _warning(1)
    records.report_finding(later, at=T0)  # recorded first, about later data
    records.report_finding(earlier, at=T0 + timedelta(hours=40))
    assert [f.id for f in records.findings()] == [later.id, earlier.id]


def test_in_one_batch_only_the_newest_warning_keeps_its_proposal(store) -> None:
    first, second = _warning(1), _warning(30)
    orchestrator = Orchestrator(store, [_Watcher([[first, second]])], clock=lambda: T0)
    report = orchestrator.run(at=T0 + timedelta(hours=31))
    records = AgentRecords(store)
    assert report.superseded == [first.id]
    states = {
        records.recommendation(a.recommendation_id).finding_ids[0]: a.state
        for a in records.actions(limit=None)
    }
    assert states == {first.id: "superseded", second.id: "proposed"}


def test_a_warning_resolved_in_the_batch_that_reports_it_leaves_no_proposal(store) -> None:
    warning = _warning(1)
    over = Finding(
        **{**_warning(1).__dict__, "status": "resolved", "evidence": Evidence(text="repaired")}
    )
    orchestrator = Orchestrator(store, [_Watcher([[warning, over]])], clock=lambda: T0)
    report = orchestrator.run(at=T0 + timedelta(hours=40))
    records = AgentRecords(store)
    assert report.findings == [warning.id] and report.resolved == [warning.id]
    assert records.finding(warning.id).status == "resolved"
    assert records.count_actions(state="proposed") == 0
    (entry,) = records.audit_log(object_id=warning.id, verb="finding.resolved")
    assert entry.details["why"] == "repaired"
