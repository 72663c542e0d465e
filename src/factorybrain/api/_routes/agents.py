"""The agents themselves: which are installed, running them now, and the playbooks in force.

A run is an audit entry; the agents compute over a connection of their own and write in short
transactions, so proposals and approvals are answered while they run. One run at a time: a
request while one runs answers 409. The agents' records (findings, recommendations, actions,
audit) have their own router, :mod:`.records`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from factorybrain.agents import AuditEntry, Orchestrator, describe_playbooks
from factorybrain.api._deps import Access, AgentRunner, Conductor, Viewer
from factorybrain.api._schemas import RunBody
from factorybrain.exceptions import ParameterError

router = APIRouter(tags=["agents"])


@router.get("/agents")
async def list_agents(_: Viewer, conductor: Conductor) -> list[dict[str, Any]]:
    """The installed agents: what they react to and how often they run."""
    return [
        {
            "name": name,
            "subscriptions": list(agent.subscriptions),
            "schedule_seconds": (
                None
                if (schedule := getattr(agent, "schedule", None)) is None
                else schedule.total_seconds()
            ),
            "watches": list(getattr(agent, "watches", ()) or ()),
        }
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


@router.get("/playbooks")
async def playbooks(_: Viewer, conductor: Conductor) -> list[dict[str, Any]]:
    """The playbooks in force: which agent reacts to which finding kind."""
    return [dict(p) for p in describe_playbooks(conductor.playbooks)]
