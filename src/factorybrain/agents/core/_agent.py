"""What an agent is to the orchestrator: the :class:`Agent` protocol, its :class:`AgentContext`.

Agents and executors both receive an :class:`AgentContext` (the store, the records and a clock),
so this module sits below the orchestrator and the executors alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from factorybrain.agents.core._contract import Finding, Recommendation, utc
from factorybrain.agents.core._playbooks import Playbook
from factorybrain.agents.core._records import AgentRecords
from factorybrain.store import Store

Output = Iterable[Finding | Recommendation]


def utcnow() -> datetime:
    """The wall clock as naive UTC, the agents' default clock."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class AgentContext:
    """What an agent (or an executor) gets: the store, a clock and the records. No globals.

    Args:
        store: The factory store.
        records: The agents' records (findings, recommendations, actions, audit).
        clock: Returns the current time (naive UTC); tests pass a fixed clock.
        trigger: The finding being reacted to, when reacting.
        playbook: The playbook the reaction runs under, if any.
        action_id: The action being executed, when executing.
    """

    store: Store
    records: AgentRecords
    clock: Callable[[], datetime] = utcnow
    trigger: Finding | None = None
    playbook: Playbook | None = None
    action_id: str | None = None

    def now(self) -> datetime:
        """Current time, naive UTC."""
        return utc(self.clock())  # type: ignore[return-value]


@runtime_checkable
class Agent(Protocol):
    """What the orchestrator needs from an agent.

    Attributes:
        name: Unique name (``maintenance``, ``planning``...), used in playbooks and the audit.
        subscriptions: Finding kinds it can react to (globs allowed, e.g. ``quality.*``).

    An agent may also have ``schedule: timedelta`` to be run by
    :meth:`Orchestrator.run_scheduled` at that interval, and ``watches: tuple[str, ...]``
    (entity types, ``"datapoint"``) to be run by :meth:`Orchestrator.run_on_new_data`.
    """

    @property
    def name(self) -> str:
        """Unique name of the agent."""
        ...

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Finding kinds it can react to."""
        ...

    def run(self, context: AgentContext) -> Output:
        """Look at the factory model and return findings and recommendations."""
        ...

    def react(self, finding: Finding, context: AgentContext) -> Output:
        """React to another agent's finding; return new findings and recommendations."""
        ...


class BaseAgent:
    """Convenience base: an agent that finds nothing and reacts to nothing until overridden."""

    name: str = "agent"
    subscriptions: tuple[str, ...] = ()
    schedule: timedelta | None = None
    watches: tuple[str, ...] = ()
    #: Kinds of which the newest finding on a subject replaces the older ones (``superseded``).
    supersedes: tuple[str, ...] = ()

    def run(self, context: AgentContext) -> Output:
        """Return nothing; override to look at the model."""
        return ()

    def react(self, finding: Finding, context: AgentContext) -> Output:
        """Return nothing; override to react to findings."""
        return ()
