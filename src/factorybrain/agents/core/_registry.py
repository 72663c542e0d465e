"""The registry of installed agents: one entry-point group, for our agents and everyone else's.

An agent package ships one :class:`AgentPlugin` and names it in its ``pyproject.toml``::

    [project.entry-points."factorybrain.agents"]
    maintenance = "factorybrain.agents.maintenance:PLUGIN"

``factorybrain agents run``, the API's scheduler and ``factorybrain demo`` read the registry, so
a new agent is one package and one entry; nothing else in factorybrain lists agents. An entry may
also name a bare factory (``package.module:MyAgent``): the agent then runs everywhere and the
demo runs it once through the orchestrator. :func:`register_agent` adds an agent in this process
only (a notebook, a test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from factorybrain.agents.core._agent import Agent
from factorybrain.agents.core._executors import Executor, Executors, default_executors
from factorybrain.agents.core._orchestrator import Orchestrator
from factorybrain.agents.core._policies import Policy, PolicySet, default_policies
from factorybrain.exceptions import ParameterError
from factorybrain.scoring import Scorer, Stage
from factorybrain.store import Store

#: Entry-point group through which packages ship agents: ``name = "package.module:PLUGIN"``.
ENTRY_POINT_GROUP = "factorybrain.agents"


@dataclass(frozen=True)
class AgentPlugin:
    """One installed agent: how to build it, and how the demo plant runs and scores it.

    Attributes:
        name: The agent's name, as playbooks and the audit call it.
        factory: Builds the agent (no arguments; the store arrives through the context).
        demo_stage: Runs the agent on the loaded demo store and returns a summary; without one,
            the demo runs the agent once through the orchestrator.
        demo_scorers: Compare what the agent found with the demo plant's truth.
        after: Agents whose demo stages run first, because their findings feed this one.
        executors: The executors of the action types the agent proposes (``action_type ->
            executor``), so that what it proposes can execute wherever it is installed.
        policies: Who approves those action types (an action type without a policy needs an
            admin).
    """

    name: str
    factory: Callable[[], Agent]
    demo_stage: Stage | None = None
    demo_scorers: tuple[Scorer, ...] = ()
    after: tuple[str, ...] = ()
    executors: Mapping[str, Executor] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()


#: Agents registered in this process, by name (see :func:`register_agent`).
_REGISTERED: dict[str, AgentPlugin] = {}


def register_agent(
    name: str,
    factory: Callable[[], Agent],
    *,
    demo_stage: Stage | None = None,
    demo_scorers: Iterable[Scorer] = (),
    after: Iterable[str] = (),
    executors: Mapping[str, Executor] | None = None,
    policies: Iterable[Policy] = (),
) -> AgentPlugin:
    """Make an agent available in this process to ``agents run``, the API and the demo.

    An agent registered here wins over an installed one of the same name. Packages ship agents
    through the entry-point group :data:`ENTRY_POINT_GROUP` instead.

    Args:
        name: The agent's name, as playbooks call it.
        factory: Builds the agent (no arguments; the store arrives through the context).
        demo_stage: See :class:`AgentPlugin`.
        demo_scorers: See :class:`AgentPlugin`.
        after: See :class:`AgentPlugin`.
        executors: See :class:`AgentPlugin`.
        policies: See :class:`AgentPlugin`.

    Returns:
        The registered plugin.
    """
    plugin = AgentPlugin(
        name,
        factory,
        demo_stage,
        tuple(demo_scorers),
        tuple(after),
        dict(executors or {}),
        tuple(policies),
    )
    _REGISTERED[name] = plugin
    return plugin


def unregister_agent(name: str) -> None:
    """Forget an agent registered in this process (installed ones stay)."""
    _REGISTERED.pop(name, None)


def _from_entry_point(point: EntryPoint) -> AgentPlugin:
    loaded = point.load()
    if isinstance(loaded, AgentPlugin):
        if loaded.name != point.name:
            raise ParameterError(
                f"entry point {point.name!r} of group {ENTRY_POINT_GROUP!r} ({point.value}) "
                f"names an agent called {loaded.name!r}: the two names must be the same"
            )
        return loaded
    if callable(loaded):
        return AgentPlugin(point.name, loaded)
    raise ParameterError(
        f"entry point {point.name!r} of group {ENTRY_POINT_GROUP!r} ({point.value}) must be an "
        f"AgentPlugin or a factory of agents; found {type(loaded).__name__}"
    )


def agent_plugins() -> list[AgentPlugin]:
    """Every installed agent, in the order the demo runs them (each after those it follows).

    Installed agents come from the entry-point group :data:`ENTRY_POINT_GROUP`; agents
    registered in this process (:func:`register_agent`) are added and win over an installed one
    of the same name. Among agents free to run, names decide the order; ``after`` names that are
    not installed are ignored.

    Raises:
        ParameterError: an entry point names something that is not an agent, or the agents'
            ``after`` lists form a circle.
    """
    plugins: dict[str, AgentPlugin] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _REGISTERED and point.name not in plugins:
            plugins[point.name] = _from_entry_point(point)
    plugins.update(_REGISTERED)
    return _in_dependency_order(plugins)


def _in_dependency_order(plugins: dict[str, AgentPlugin]) -> list[AgentPlugin]:
    waiting = {name: {a for a in p.after if a in plugins} for name, p in plugins.items()}
    ordered: list[AgentPlugin] = []
    while waiting:
        ready = sorted(name for name, before in waiting.items() if not before)
        if not ready:
            circle = ", ".join(f"{name} after {sorted(b)}" for name, b in sorted(waiting.items()))
            raise ParameterError(f"the agents' 'after' lists form a circle: {circle}")
        for name in ready:
            ordered.append(plugins[name])
            del waiting[name]
        for before in waiting.values():
            before.difference_update(ready)
    return ordered


def installed_agents() -> list[Agent]:
    """Build every installed agent (see :func:`agent_plugins`), ordered by name."""
    return [plugin.factory() for plugin in sorted(agent_plugins(), key=lambda p: p.name)]


def installed_orchestrator(
    store: Store, *, with_agents: bool = True, **options: Any
) -> Orchestrator:
    """The orchestrator of everything installed: agents, and their executors and policies.

    The CLI, the REST API, the MCP server and the demo build theirs here, so an action type an
    installed agent proposes can be decided and executed through every interface.

    Args:
        store: The factory store.
        with_agents: Run the installed agents (False: decide and execute only, as a server
            without a schedule or the MCP server does).
        **options: Passed to :class:`Orchestrator` (``clock``, ``cooldown``, ...).

    Raises:
        ParameterError: Two installed agents bring an executor or a policy for one action type.
    """
    plugins = agent_plugins()
    executors: Executors = default_executors()
    policies = {policy.action_type: policy for policy in default_policies()}
    for plugin in plugins:
        for action_type, executor in plugin.executors.items():
            if action_type in executors:
                raise ParameterError(
                    f"agent {plugin.name!r} brings an executor for {action_type!r}, which "
                    "another agent or factorybrain itself already executes"
                )
            executors.register(action_type, executor)
        for policy in plugin.policies:
            policies[policy.action_type] = policy
    agents = installed_agents() if with_agents else []
    return Orchestrator(
        store, agents, executors=executors, policies=PolicySet(policies.values()), **options
    )
