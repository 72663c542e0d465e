"""Who may approve what: roles, and the policy of each action type.

Nothing that changes a plan or an order executes without an approval unless its policy says
``auto_execute``; an agent may ask for approval where a policy would not (the stricter wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from factorybrain.agents.core._contract import COMPOSITE, PermissionDeniedError, Recommendation
from factorybrain.exceptions import ParameterError

#: Roles from least to most trusted; a role may do everything the roles before it may.
ROLES: tuple[str, ...] = ("viewer", "engineer", "planner", "admin")


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES`.

    Raises:
        ParameterError: If the role is unknown.
    """
    if role not in ROLES:
        raise ParameterError(f"unknown role {role!r}; roles are {list(ROLES)}")
    return ROLES.index(role)


def has_role(role: str, needed: str) -> bool:
    """Whether ``role`` is at least as trusted as ``needed``."""
    return role_rank(role) >= role_rank(needed)


@dataclass(frozen=True)
class Policy:
    """How one action type is governed.

    Args:
        action_type: The action type (an executor's name).
        approver: Least role that may approve or reject it (``viewer`` can never approve).
        auto_execute: Whether it may execute without a person when the agent does not ask for
            approval.
        description: Why, for the reference.
    """

    action_type: str
    approver: str = "admin"
    auto_execute: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        role_rank(self.approver)
        if self.approver == "viewer":
            raise ParameterError(
                f"policy of {self.action_type!r}: a viewer may never approve; choose one of "
                f"{list(ROLES[1:])}"
            )


#: Policies shipped with factorybrain; an unknown action type needs an admin.
DEFAULT_POLICIES: tuple[Policy, ...] = (
    Policy("notify", "engineer", auto_execute=True, description="Only informs people."),
    Policy("finding.acknowledge", "engineer", auto_execute=True, description="Bookkeeping."),
    Policy("maintenance_order.create", "engineer", description="Adds a maintenance order."),
    Policy("work_order.reschedule", "planner", description="Moves production orders."),
    Policy("purchase_order.create", "planner", description="Commits money to a supplier."),
    Policy("maintenance_order.cancel", "engineer", description="Withdraws a maintenance order."),
    Policy("purchase_order.cancel", "planner", description="Withdraws an order to a supplier."),
    Policy(COMPOSITE, "planner", description="Several steps approved as one."),
)


#: Policies other packages registered (see :func:`register_policy`).
_REGISTERED: dict[str, Policy] = {}


def register_policy(policy: Policy) -> None:
    """Add or replace the default policy of one action type in this process."""
    _REGISTERED[policy.action_type] = policy


def default_policies() -> tuple[Policy, ...]:
    """:data:`DEFAULT_POLICIES`, with registered policies replacing or adding to them."""
    merged = {p.action_type: p for p in DEFAULT_POLICIES}
    merged.update(_REGISTERED)
    return tuple(merged.values())


class PolicySet:
    """The policies in force, looked up by action type.

    Args:
        policies: One policy per action type; :func:`default_policies` when None.
        default: Policy of an action type no policy names (admin approval, no auto-execution).
    """

    def __init__(
        self,
        policies: Iterable[Policy] | None = None,
        *,
        default: Policy | None = None,
    ) -> None:
        self._by_type: dict[str, Policy] = {}
        for policy in default_policies() if policies is None else policies:
            if policy.action_type in self._by_type:
                raise ParameterError(f"two policies for action type {policy.action_type!r}")
            self._by_type[policy.action_type] = policy
        self.default = default or Policy("*", "admin")

    @property
    def policies(self) -> Mapping[str, Policy]:
        """Policies by action type."""
        return dict(self._by_type)

    def policy(self, action_type: str) -> Policy:
        """Return the policy of ``action_type`` (the default when none names it)."""
        return self._by_type.get(action_type, self.default)

    def approver(self, recommendation: Recommendation) -> str:
        """Least role that may approve the recommendation's action.

        A composite needs the most trusted role any of its steps needs, and at least the
        composite policy's role.
        """
        roles = [self.policy(recommendation.action_type).approver]
        roles += [self.policy(step.action_type).approver for step in recommendation.steps]
        return max(roles, key=role_rank)

    def auto_executes(self, recommendation: Recommendation) -> bool:
        """Whether the action may execute without a person (policy allows it, agent agrees)."""
        if recommendation.requires_approval:
            return False
        if recommendation.steps:
            return all(self.policy(s.action_type).auto_execute for s in recommendation.steps)
        return self.policy(recommendation.action_type).auto_execute

    def check_can_decide(self, role: str, required_role: str | None, action_id: str) -> None:
        """Raise unless ``role`` may approve or reject an action needing ``required_role``.

        Raises:
            PermissionDeniedError: Naming the action, the role held and the role needed.
        """
        needed = required_role or "admin"
        if role == "viewer" or not has_role(role, needed):
            raise PermissionDeniedError(
                f"action {action_id} needs the role {needed!r} (or higher) to be approved or "
                f"rejected; the caller has {role!r}"
            )
