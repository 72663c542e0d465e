from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from factorybrain.agents import (
    ActionStateError,
    AgentContext,
    BaseAgent,
    EntityRef,
    Evidence,
    Finding,
    Orchestrator,
    PermissionDeniedError,
    Playbook,
    Recommendation,
    Route,
)
from factorybrain.exceptions import ParameterError

T0 = datetime(2026, 3, 2, 8, 0)
PRESS = EntityRef("asset", "press-3")


def _seed(store) -> None:
    store.upsert_entities(
        "asset",
        pa.table({"space": ["acme"], "external_id": ["press-3"], "level": ["equipment"]}),
        "seed",
    )
    store.upsert_entities(
        "work_order",
        pa.table(
            {
                "space": ["acme", "acme"],
                "external_id": ["WO-1", "WO-2"],
                "planned_start": pa.array([datetime(2026, 3, 5, 6), datetime(2026, 3, 5, 14)]),
                "planned_end": pa.array([datetime(2026, 3, 5, 14), datetime(2026, 3, 5, 22)]),
                "status": ["planned", "planned"],
            }
        ),
        "seed",
    )


class Maintenance(BaseAgent):
    name = "maintenance"
    schedule = timedelta(hours=1)

    def __init__(self, rul_days: float = 9.0) -> None:
        self.rul_days = rul_days
        self.runs = 0

    def run(self, context: AgentContext) -> Iterable[Finding | Recommendation]:
        self.runs += 1
        finding = Finding(
            "maintenance",
            "maintenance.rul_low",
            PRESS,
            severity="high",
            confidence=0.9,
            evidence=Evidence(numbers={"rul_days": self.rul_days}, text="bearing wear"),
        )
        order = Recommendation(
            "maintenance",
            (finding.id,),
            "maintenance_order.create",
            {
                "space": "acme",
                "external_id": "MO-press-3",
                "asset": "press-3",
                "planned_start": "2026-03-05T06:00:00",
                "planned_end": "2026-03-05T14:00:00",
            },
            {"downtime_hours": 8},
        )
        return [order, finding]  # the recommendation first: the orchestrator must cope


class Planning(BaseAgent):
    name = "planning"
    subscriptions = ("maintenance.rul_low",)

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        assert context.trigger == finding and context.now() == T0
        window = Finding(
            "planning",
            "planning.maintenance_window",
            finding.subject,
            evidence=Evidence(numbers={"window_hours": 8}),
        )
        replan = Recommendation(
            "planning",
            (finding.id, window.id),
            "work_order.reschedule",
            {
                "orders": [
                    {
                        "external_id": "WO-1",
                        "planned_start": "2026-03-05T14:00:00",
                        "planned_end": "2026-03-05T22:00:00",
                    },
                    {
                        "external_id": "WO-2",
                        "planned_start": "2026-03-05T22:00:00",
                        "planned_end": "2026-03-06T06:00:00",
                    },
                ]
            },
            {"late_orders": 0},
        )
        return [window, replan]


class Logistics(BaseAgent):
    name = "logistics"
    subscriptions = ("planning.maintenance_window",)

    def react(self, finding: Finding, context: AgentContext) -> Iterable[Finding | Recommendation]:
        spares = Finding("logistics", "logistics.spares_reorder", EntityRef("material", "BRG-1"))
        order = Recommendation(
            "logistics",
            (spares.id,),
            "purchase_order.create",
            {"space": "acme", "external_id": "PO-BRG-1", "material": "BRG-1", "quantity": 2},
        )
        return [spares, order]


def _orchestrator(store, *agents, **options) -> Orchestrator:
    agents = agents or (Maintenance(), Planning(), Logistics())
    return Orchestrator(store, agents, clock=lambda: T0, **options)


def test_flagship_playbook_gives_one_action_for_the_planner_that_changes_plan_and_orders(
    store,
) -> None:
    _seed(store)
    orchestrator = _orchestrator(store)
    report = orchestrator.run()
    assert len(report.findings) == 3 and not report.errors
    assert len(report.actions) == 1
    assert [r[0] for r in report.reactions] == ["planning", "logistics"]
    action = orchestrator.records.action(report.actions[0])
    assert (action.action_type, action.state, action.required_role) == (
        "composite",
        "proposed",
        "planner",
    )
    composite = orchestrator.records.recommendation(action.recommendation_id)
    assert [s.action_type for s in composite.steps] == [
        "maintenance_order.create",
        "work_order.reschedule",
        "purchase_order.create",
    ]
    assert set(report.findings) <= set(composite.finding_ids)

    for role in ("viewer", "engineer"):
        with pytest.raises(PermissionDeniedError, match="planner"):
            orchestrator.approve(action.id, actor="user:eve", role=role)
    assert store.counts()["purchase_order"] == 0  # nothing executed without approval

    done = orchestrator.approve(action.id, actor="user:ann", role="planner", comment="go")
    assert done.state == "executed", done.result
    orders = store.entities("work_order").set_index("external_id")
    assert orders.loc["WO-1", "planned_start"] == datetime(2026, 3, 5, 14)
    assert store.entities("maintenance_order")["asset"].tolist() == ["press-3"]
    purchase = store.entities("purchase_order").iloc[0]
    assert (purchase["material"], purchase["quantity"], purchase["status"]) == ("BRG-1", 2, "open")
    changes = done.result["steps"][1]["changed"]["work_order"]
    assert changes[0]["before"]["planned_start"] == "2026-03-05T06:00:00"
    verbs = [e.verb for e in orchestrator.records.audit_log(object_id=action.id)]
    assert sorted(verbs) == ["action.approved", "action.executed", "action.proposed"]
    approved = orchestrator.records.audit_log(object_id=action.id, verb="action.approved")[0]
    assert (approved.actor, approved.details["comment"]) == ("user:ann", "go")


def test_replaying_a_run_changes_nothing(store) -> None:
    _seed(store)
    orchestrator = _orchestrator(store)
    orchestrator.run()
    before = store.counts()
    audit = orchestrator.records.count_audit()
    again = orchestrator.run()
    assert again.findings == [] and again.actions == [] and again.reactions == []
    assert again.repeated_findings
    after = store.counts()
    for table in ("finding", "recommendation", "action"):
        assert after[table] == before[table]
    assert orchestrator.records.count_audit(verb="agent.reacted") == 2
    assert orchestrator.records.count_audit() == audit  # same instant: even agent.ran is one


def test_no_finding_is_lost_when_an_agent_fails_or_routing_was_interrupted(store) -> None:
    class Broken(BaseAgent):
        name = "planning"
        subscriptions = ("maintenance.rul_low",)

        def react(self, finding, context):
            raise RuntimeError("solver crashed")

    _seed(store)
    orchestrator = _orchestrator(store, Maintenance(), Broken(), Logistics())
    report = orchestrator.run()
    assert report.errors[0]["agent"] == "planning" and "solver crashed" in report.errors[0]["error"]
    assert orchestrator.records.count_findings() == 1
    # the maintenance order alone is still proposed, for the playbook's approver
    action = orchestrator.records.action(report.actions[0])
    assert (action.action_type, action.required_role) == ("maintenance_order.create", "planner")
    failed = orchestrator.records.audit_log(verb="agent.failed")
    assert failed[0].details["stage"] == "react"

    # a finding stored before a crash, never routed, is routed on the next submit
    lost = Finding("quality", "quality.drift", EntityRef("asset", "lathe-1"))
    orchestrator.records.report_finding(lost, at=T0)
    seen = []

    class Inspect(BaseAgent):
        name = "maintenance2"
        subscriptions = ("quality.*",)

        def react(self, finding, context):
            seen.append(finding.id)
            return ()

    other = Orchestrator(store, [Inspect()], playbooks=(), clock=lambda: T0)
    assert other.submit([lost]).findings == [lost.id]
    assert seen == [lost.id]
    assert other.submit([lost]).findings == []


class PingPong(BaseAgent):
    """Answers every finding of the other with a new finding of its own: a loop."""

    def __init__(self, name: str, listens: str, says: str, new_subject: bool) -> None:
        self.name, self.subscriptions, self.says = name, (listens,), says
        self.new_subject = new_subject
        self.calls = 0

    def react(self, finding, context):
        self.calls += 1
        subject = EntityRef("asset", f"m{finding.depth + 1}") if self.new_subject else PRESS
        return [Finding(self.name, self.says, subject, dedup_key=str(finding.depth))]


def test_cooldown_stops_two_agents_bouncing_on_one_subject(store) -> None:
    ping = PingPong("ping", "pong.said", "ping.said", new_subject=False)
    pong = PingPong("pong", "ping.said", "pong.said", new_subject=False)
    orchestrator = Orchestrator(store, [ping, pong], playbooks=(), clock=lambda: T0, max_depth=50)
    report = orchestrator.submit([Finding("seed", "pong.said", PRESS)])
    assert (ping.calls, pong.calls) == (1, 1)
    assert {s["reason"] for s in report.skipped} == {"cooldown"}
    later = T0 + timedelta(hours=13)
    orchestrator.submit([Finding("seed", "pong.said", PRESS, dedup_key="b")], at=later)
    # the cool-down has passed, so ping reacts; its answer is the finding it reported before
    # (same dedup key), which deduplication does not route again
    assert (ping.calls, pong.calls) == (2, 1)
    assert orchestrator.records.count_audit(verb="agent.cooldown") == 1


def test_depth_limit_stops_a_chain_that_keeps_finding_new_subjects(store) -> None:
    ping = PingPong("ping", "pong.said", "ping.said", new_subject=True)
    pong = PingPong("pong", "ping.said", "pong.said", new_subject=True)
    orchestrator = Orchestrator(store, [ping, pong], playbooks=(), clock=lambda: T0, max_depth=5)
    report = orchestrator.submit([Finding("seed", "pong.said", EntityRef("asset", "m0"))])
    assert ping.calls + pong.calls == 5
    assert report.skipped == [{"reason": "depth_limit", "finding": report.findings[-1]}]
    assert orchestrator.records.finding(report.findings[-1]).depth == 5
    assert orchestrator.records.count_findings() == 6  # stored, not routed


def test_policies_auto_execute_only_what_they_allow(store) -> None:
    _seed(store)
    orchestrator = _orchestrator(store, Maintenance())
    notice = Recommendation("ops", ("f",), "notify", {"to": ["ann"]}, requires_approval=False)
    purchase = Recommendation(
        "ops",
        ("f",),
        "purchase_order.create",
        {"space": "acme", "external_id": "PO-9", "material": "m", "quantity": 1},
        requires_approval=False,
    )
    asked = Recommendation("ops", ("g",), "notify", {"to": ["bob"]}, requires_approval=True)
    report = orchestrator.submit([notice, purchase, asked])
    assert len(report.executed) == 1
    states = {
        orchestrator.records.action(a).action_type + str(i): orchestrator.records.action(a)
        for i, a in enumerate(report.actions)
    }
    executed = [a for a in states.values() if a.state == "executed"]
    assert [(a.action_type, a.decided_by) for a in executed] == [("notify", "policy:auto")]
    proposed = sorted(a.action_type for a in states.values() if a.state == "proposed")
    assert proposed == ["notify", "purchase_order.create"]
    assert store.counts()["purchase_order"] == 0


def test_execution_needs_approval_and_failures_roll_back_every_step(store) -> None:
    _seed(store)
    orchestrator = _orchestrator(store)
    action_id = orchestrator.run().actions[0]
    with pytest.raises(ActionStateError, match="proposed -> executed"):
        orchestrator.execute(action_id, actor="user:ann")
    store.upsert_entities(  # WO-2 disappears: the reschedule step must fail
        "work_order", pa.table({"space": ["acme"], "external_id": ["WO-2"]}), "x"
    )
    store.connection.execute("DELETE FROM work_order WHERE external_id = 'WO-2'")
    done = orchestrator.approve(action_id, actor="user:ann", role="admin")
    assert done.state == "failed"
    assert "WO-2" in done.result["error"] and done.result["failed_step"] == 1
    assert store.counts()["maintenance_order"] == 0  # step 0 rolled back
    with pytest.raises(ActionStateError, match="failed -> executed"):
        orchestrator.execute(action_id, actor="user:ann")


def test_rejection_is_recorded_and_final(store) -> None:
    _seed(store)
    orchestrator = _orchestrator(store)
    action_id = orchestrator.run().actions[0]
    rejected = orchestrator.reject(action_id, actor="user:ann", role="planner", comment="not now")
    assert (rejected.state, rejected.comment) == ("rejected", "not now")
    with pytest.raises(ActionStateError, match="rejected -> approved"):
        orchestrator.approve(action_id, actor="user:ann", role="admin")
    assert store.counts()["maintenance_order"] == 0


def test_run_scheduled_runs_agents_when_their_interval_has_passed(store) -> None:
    _seed(store)
    maintenance = Maintenance()
    orchestrator = _orchestrator(store, maintenance, Planning(), Logistics())
    assert orchestrator.run_scheduled(T0).agents_run == ["maintenance"]
    assert orchestrator.run_scheduled(T0 + timedelta(minutes=30)).agents_run == []
    assert orchestrator.run_scheduled(T0 + timedelta(hours=1)).agents_run == ["maintenance"]
    assert maintenance.runs == 2


def test_proposing_an_unknown_action_type_is_refused(store) -> None:
    orchestrator = _orchestrator(store)
    with pytest.raises(ParameterError, match="no executor"):
        orchestrator.propose(Recommendation("mcp", (), "reactor.scram"), actor="user:x")
    action = orchestrator.propose(
        Recommendation("mcp", (), "notify", {"to": ["a"]}, requires_approval=False),
        actor="user:x",
    )
    assert action.state == "proposed"  # proposing never executes


def test_playbook_routing_is_declared_data() -> None:
    playbook = Playbook("p", "a.b", (Route("a.*", "x"), Route("a.b", "y")))
    assert playbook.agents_for("a.b") == ["x", "y"]
    assert playbook.agents_for("c.d") == []
    with pytest.raises(ParameterError, match="role"):
        Playbook("p", "a.b", (), approver="boss")


def test_executing_acknowledges_the_findings_it_answered(store) -> None:
    _seed(store)
    orchestrator = _orchestrator(store)
    action_id = orchestrator.run().actions[0]
    assert orchestrator.records.count_findings(status="open") == 3
    orchestrator.approve(action_id, actor="user:ann", role="planner")
    assert orchestrator.records.count_findings(status="open") == 0
    entry = orchestrator.records.audit_log(verb="finding.acknowledged")[0]
    assert entry.details["comment"] == f"answered by action {action_id}"
    # still-low RUL reported again the next day: known and acknowledged, so nothing new
    again = orchestrator.run(at=T0 + timedelta(days=1))
    assert again.actions == [] and again.findings == []


def test_run_on_new_data_runs_the_agents_watching_what_changed(store) -> None:
    class Watcher(Maintenance):
        watches = ("datapoint",)

    _seed(store)
    watcher = Watcher()
    orchestrator = _orchestrator(store, watcher, Planning(), Logistics())
    assert orchestrator.run_on_new_data({"work_order"}).agents_run == []
    assert orchestrator.run_on_new_data({"datapoint"}).agents_run == ["maintenance"]
    assert watcher.runs == 1


def test_registered_executors_and_policies_reach_every_orchestrator(store, monkeypatch) -> None:
    from factorybrain.agents import Policy, register_executor, register_policy
    from factorybrain.agents.core import _executors, _policies

    monkeypatch.setattr(_executors, "_REGISTERED", {})
    monkeypatch.setattr(_policies, "_REGISTERED", {})
    calls = []
    register_executor("schedule.apply", lambda context, parameters: calls.append(parameters) or {})
    register_policy(Policy("schedule.apply", "planner"))
    orchestrator = Orchestrator(store, clock=lambda: T0)
    action = orchestrator.propose(
        Recommendation("planning", (), "schedule.apply", {"plan": "p1"}), actor="agent:planning"
    )
    assert action.required_role == "planner"
    orchestrator.approve(action.id, actor="user:ann", role="planner")
    assert calls == [{"plan": "p1"}]


def test_proposing_for_a_finding_that_does_not_exist_is_refused(store) -> None:
    orchestrator = _orchestrator(store)
    with pytest.raises(ParameterError, match="fnd-ghost"):
        orchestrator.propose(
            Recommendation("mcp", ("fnd-ghost",), "notify", {"to": ["a"]}), actor="user:x"
        )


def test_a_later_stage_supersedes_an_earlier_step_on_the_same_asset(store) -> None:
    class PlanningWithOrder(Planning):
        def react(self, finding, context):
            items = list(super().react(finding, context))
            window = items[0]
            order = Recommendation(
                "planning",
                (finding.id, window.id),
                "maintenance_order.create",
                {
                    "space": "acme",
                    "external_id": "MO-window",
                    "asset": "press-3",
                    "planned_start": "2026-03-05T22:00:00",
                    "planned_end": "2026-03-06T06:00:00",
                },
            )
            return [*items, order]

    _seed(store)
    orchestrator = _orchestrator(store, Maintenance(), PlanningWithOrder(), Logistics())
    action_id = orchestrator.run().actions[0]
    composite = orchestrator.records.recommendation(
        orchestrator.records.action(action_id).recommendation_id
    )
    assert [(s.agent, s.action_type) for s in composite.steps] == [
        ("planning", "work_order.reschedule"),
        ("planning", "maintenance_order.create"),
        ("logistics", "purchase_order.create"),
    ]
    assert len(composite.parameters["superseded"]) == 1
    orchestrator.approve(action_id, actor="user:ann", role="planner")
    assert store.entities("maintenance_order")["external_id"].tolist() == ["MO-window"]
