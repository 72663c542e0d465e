"""The agents layer: the agents' contract, the orchestrator, playbooks, policies and executors.

Agents report :class:`Finding` objects and make :class:`Recommendation` objects; the
:class:`Orchestrator` stores them (idempotently), routes findings to the agents that react to
them through :data:`PLAYBOOKS`, bundles a chain's recommendations into one :class:`Action`, and
lets people approve or reject it under the :class:`PolicySet`; every state change is an
:class:`AuditEntry`.
"""

from __future__ import annotations

from factorybrain.agents._contract import (
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
    refs,
    stable_id,
)
from factorybrain.agents._executors import (
    Executor,
    Executors,
    create_maintenance_order,
    create_purchase_order,
    default_executors,
    notify,
    register_executor,
    reschedule_work_orders,
)
from factorybrain.agents._orchestrator import (
    BUILTIN_AGENT_MODULES,
    ENTRY_POINT_GROUP,
    Agent,
    AgentContext,
    BaseAgent,
    Orchestrator,
    RunReport,
    describe_playbooks,
    installed_agents,
    register_agent,
)
from factorybrain.agents._playbooks import PLAYBOOKS, Playbook, Route, playbook_for
from factorybrain.agents._policies import (
    DEFAULT_POLICIES,
    ROLES,
    Policy,
    PolicySet,
    default_policies,
    has_role,
    register_policy,
    role_rank,
)
from factorybrain.agents._records import AGENTS_SPACE, AgentRecords

__all__ = [
    "ACTION_STATES",
    "AGENTS_SPACE",
    "Action",
    "ActionStateError",
    "Agent",
    "AgentContext",
    "AgentRecords",
    "AuditEntry",
    "BUILTIN_AGENT_MODULES",
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
    "create_maintenance_order",
    "create_purchase_order",
    "default_executors",
    "default_policies",
    "describe_playbooks",
    "has_role",
    "installed_agents",
    "notify",
    "playbook_for",
    "refs",
    "register_agent",
    "register_executor",
    "register_policy",
    "reschedule_work_orders",
    "role_rank",
    "stable_id",
]
