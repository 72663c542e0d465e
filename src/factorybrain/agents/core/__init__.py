"""The agents' shared core: the contract, records, orchestrator, playbooks, policies and executors.

Agents report :class:`Finding` objects and make :class:`Recommendation` objects; the
:class:`Orchestrator` stores them (idempotently), routes findings to the agents that react to
them through :data:`PLAYBOOKS`, bundles a chain's recommendations into one :class:`Action`, and
lets people approve or reject it under the :class:`PolicySet`; every state change is an
:class:`AuditEntry`. Installed agents are found through the registry (:func:`agent_plugins`).

Inside, each module imports only those above it in this list: ``_contract``, ``_records``,
``_policies``, ``_playbooks``, ``_agent`` (what an agent and its context are), ``_executors``,
``_orchestrator``, ``_registry``, ``_replay`` (agents over history, into a scenario).
"""

from __future__ import annotations

from factorybrain.agents.core._agent import Agent, AgentContext, BaseAgent, Output, utcnow
from factorybrain.agents.core._contract import (
    ACTION_STATES,
    COMPOSITE,
    FINDING_STATUSES,
    SEVERITIES,
    TRANSITIONS,
    Action,
    ActionStateError,
    AuditEntry,
    EntityRef,
    Evidence,
    Finding,
    PermissionDeniedError,
    Recommendation,
    RecordNotFoundError,
    Step,
    data_gap,
    refs,
    stable_id,
    utc,
)
from factorybrain.agents.core._executors import (
    Executor,
    Executors,
    create_maintenance_order,
    create_purchase_order,
    default_executors,
    find_record,
    notify,
    register_executor,
    required_parameter,
    reschedule_work_orders,
)
from factorybrain.agents.core._orchestrator import Orchestrator, RunReport, describe_playbooks
from factorybrain.agents.core._playbooks import PLAYBOOKS, Playbook, Route, playbook_for
from factorybrain.agents.core._policies import (
    DEFAULT_POLICIES,
    ROLES,
    Policy,
    PolicySet,
    default_policies,
    has_role,
    register_policy,
    role_rank,
)
from factorybrain.agents.core._records import AGENTS_SPACE, AgentRecords
from factorybrain.agents.core._registry import (
    ENTRY_POINT_GROUP,
    AgentPlugin,
    agent_plugins,
    installed_agents,
    installed_orchestrator,
    register_agent,
    unregister_agent,
)
from factorybrain.agents.core._replay import (
    SCENARIO_PREFIX,
    ReplayedFinding,
    ReplayReport,
    clear_scenario,
    replay,
    scenario_space,
)

__all__ = [
    "ACTION_STATES",
    "AGENTS_SPACE",
    "Action",
    "ActionStateError",
    "Agent",
    "AgentContext",
    "AgentPlugin",
    "AgentRecords",
    "AuditEntry",
    "BaseAgent",
    "COMPOSITE",
    "DEFAULT_POLICIES",
    "ENTRY_POINT_GROUP",
    "EntityRef",
    "Evidence",
    "Executor",
    "Executors",
    "FINDING_STATUSES",
    "Finding",
    "Orchestrator",
    "Output",
    "PLAYBOOKS",
    "PermissionDeniedError",
    "Playbook",
    "Policy",
    "PolicySet",
    "ROLES",
    "Recommendation",
    "RecordNotFoundError",
    "Route",
    "RunReport",
    "SEVERITIES",
    "Step",
    "TRANSITIONS",
    "agent_plugins",
    "create_maintenance_order",
    "create_purchase_order",
    "data_gap",
    "default_executors",
    "find_record",
    "default_policies",
    "describe_playbooks",
    "has_role",
    "installed_agents",
    "installed_orchestrator",
    "notify",
    "playbook_for",
    "refs",
    "register_agent",
    "register_executor",
    "required_parameter",
    "register_policy",
    "reschedule_work_orders",
    "role_rank",
    "stable_id",
    "unregister_agent",
    "utc",
    "utcnow",
    "ReplayReport",
    "ReplayedFinding",
    "SCENARIO_PREFIX",
    "clear_scenario",
    "replay",
    "scenario_space",
]
