"""The agents themselves: which are installed, running them now or over history, the playbooks.

A run is an audit entry; the agents compute over a connection of their own and write in short
transactions, so proposals and approvals are answered while they run. One run at a time: a
request while one runs answers 409. The agents' records (findings, recommendations, actions,
audit) have their own router, :mod:`.records`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException

from factorybrain.agents import AuditEntry, Orchestrator, describe_playbooks, replay
from factorybrain.api._deps import Access, AgentRunner, Conductor, Viewer
from factorybrain.api._schemas import AgentOut, PlaybookOut, ReplayBody, ReplayOut, RunBody
from factorybrain.exceptions import ParameterError

router = APIRouter(tags=["agents"])


@router.get("/agents")
async def list_agents(_: Viewer, conductor: Conductor) -> list[AgentOut]:
    """The installed agents: what they react to and how often they run."""
    return [
        AgentOut(
            name=name,
            subscriptions=list(agent.subscriptions),
            schedule_seconds=(
                None
                if (schedule := getattr(agent, "schedule", None)) is None
                else schedule.total_seconds()
            ),
            watches=list(getattr(agent, "watches", ()) or ()),
        )
        for name, agent in conductor.agents.items()
    ]


@router.post("/agents/run")
async def run_agents(
    holder: AgentRunner, access: Access, conductor: Conductor, body: RunBody | None = None
) -> dict[str, Any]:
    """Run agents now (all installed, or those named) and route what they find (audited).

    Other requests are answered while the agents run; a second run while one is going on is
    refused with 409, and each token may start only a few runs a minute (429).
    """
    names = (body.agents if body else None) or None
    unknown = sorted(set(names or ()) - set(conductor.agents))
    if unknown:
        raise ParameterError(f"no agent named {unknown}; installed: {sorted(conductor.agents)}")

    def run(runner: Orchestrator) -> dict[str, Any]:
        at = runner.now()
        runner.records.audit(
            AuditEntry(
                holder.actor,
                "agents.run_requested",
                "agent",
                ",".join(names or conductor.agents),
                at,
            )
        )
        return runner.run(names, at=at).dump()

    report = await access.run_agents(conductor, run)
    if report is None:
        raise HTTPException(409, "the agents are running already; try again when they end")
    return report


@router.post("/agents/replay")
async def replay_agents(
    holder: AgentRunner, access: Access, conductor: Conductor, body: ReplayBody
) -> ReplayOut:
    """Run the agents over history, step by step, with only the data known at each step.

    What they find and propose goes into the named scenario (replaced if it exists), never into
    the live records; nothing in it executes. The answer says, per finding, the step at which it
    would first have been raised. One run of the agents at a time (409), as for ``/agents/run``.
    """
    names = body.agents or None
    unknown = sorted(set(names or ()) - set(conductor.agents))
    if unknown:
        raise ParameterError(f"no agent named {unknown}; installed: {sorted(conductor.agents)}")

    def run(runner: Orchestrator) -> dict[str, Any]:
        report = replay(
            runner.store,
            body.start,
            body.end,
            every=timedelta(seconds=body.every_seconds),
            agents=names,
            scenario=body.scenario,
            replace=True,
        )
        runner.records.audit(
            AuditEntry(
                holder.actor,
                "agents.replayed",
                "scenario",
                report.scenario,
                runner.now(),
                {"start": report.start.isoformat(), "end": report.end.isoformat()},
            )
        )
        return report.dump()

    report = await access.run_agents(conductor, run)
    if report is None:
        raise HTTPException(409, "the agents are running already; try again when they end")
    return ReplayOut.model_validate(report)


@router.get("/playbooks")
async def playbooks(_: Viewer, conductor: Conductor) -> list[PlaybookOut]:
    """The playbooks in force: which agent reacts to which finding kind."""
    return [PlaybookOut.model_validate(p) for p in describe_playbooks(conductor.playbooks)]
