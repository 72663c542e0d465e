"""The agents' registry: a new agent is one module and one entry, ours and everyone else's."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factorybrain import demo
from factorybrain.agents import (
    AgentPlugin,
    AgentRecords,
    agent_plugins,
    installed_agents,
    register_agent,
    unregister_agent,
)
from factorybrain.cli import app
from factorybrain.exceptions import ParameterError
from factorybrain.store import open_store

TOY_MODULE = '''
import warnings

from factorybrain.agents import BaseAgent, EntityRef, Evidence, Finding


class ToyAgent(BaseAgent):
    """Finds one thing every run: that the plant exists."""

    name = "toy"

    def run(self, context):
        for _ in range(2):  # said twice, shown once
            warnings.warn("toy: the plant has no machines", stacklevel=1)
        yield Finding(
            self.name,
            "toy.hello",
            EntityRef("asset", "plant"),
            severity="low",
            evidence=Evidence(text="the toy agent ran"),
        )
'''


def _install(site: Path, name: str, module: str, entry: str) -> None:
    """Install a distribution the way pip would leave it: a module and its dist-info."""
    (site / f"{module}.py").write_text(textwrap.dedent(TOY_MODULE), encoding="utf-8")
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[factorybrain.agents]\n{entry}\n")


@pytest.fixture
def toy_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    _install(site, "toy_agent", "toy_agent", "toy = toy_agent:ToyAgent")
    monkeypatch.syspath_prepend(str(site))
    yield site


def test_the_shipped_agents_are_found_through_the_registry() -> None:
    plugins = agent_plugins()
    names = [p.name for p in plugins]
    shipped = ["maintenance", "planning", "service", "logistics", "quality"]
    assert [n for n in names if n in shipped] == shipped  # each after those it follows
    assert [a.name for a in installed_agents()] == sorted(names)
    assert all(p.demo_stage is not None and p.demo_scorers for p in plugins)


def test_a_toy_agent_is_one_module_and_one_entry_and_runs_in_agents_run_and_the_demo(
    toy_installed: Path, tmp_path: Path
) -> None:
    assert "toy" in [p.name for p in agent_plugins()]
    db = tmp_path / "plant.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", str(db)]).exit_code == 0

    result = runner.invoke(app, ["agents", "run", "toy", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["agents_run"] == ["toy"] and len(report["findings"]) == 1
    assert report["warnings"] == ["toy: the plant has no machines"]
    shown = runner.invoke(app, ["agents", "run", "toy", "--db", str(db)]).output
    assert shown.count("warning toy: the plant has no machines") == 1
    with open_store(db, read_only=True) as store:
        [finding] = AgentRecords(store).findings(kind="toy.hello")
        assert finding.agent == "toy"

    [part] = [p for p in demo.parts() if p.name == "toy"]
    assert [p.name for p in demo.parts()][0] == "contextualize"
    with (
        open_store(db) as store,  # an agent without a demo stage runs through the orchestrator
        pytest.warns(UserWarning, match="no machines"),  # the demo shows it under the stage
    ):
        summary = part.stage(store, {})  # type: ignore[misc]
    assert summary == {"findings": 1, "recommendations": 0, "actions": 0}


def test_an_entry_whose_name_differs_from_its_agent_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "named_wrong.py").write_text(
        "from factorybrain.agents import AgentPlugin, BaseAgent\n"
        "PLUGIN = AgentPlugin('other', BaseAgent)\n",
        encoding="utf-8",
    )
    info = site / "named_wrong-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: named_wrong\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[factorybrain.agents]\nwrong = named_wrong:PLUGIN\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(ParameterError, match="'wrong'.*'other'"):
        agent_plugins()


def test_registered_agents_run_after_those_they_follow_and_circles_are_refused() -> None:
    def factory():  # never called: the order alone is checked
        raise AssertionError

    try:
        register_agent("zeta", factory, after=["alpha"])
        register_agent("alpha", factory, after=["logistics"])
        order = [p.name for p in agent_plugins()]
        assert order.index("logistics") < order.index("alpha") < order.index("zeta")
        register_agent("logistics", factory, after=["zeta"])  # wins over the installed one
        with pytest.raises(ParameterError, match="circle"):
            agent_plugins()
    finally:
        for name in ("zeta", "alpha", "logistics"):
            unregister_agent(name)
    assert isinstance(next(p for p in agent_plugins() if p.name == "logistics"), AgentPlugin)


def test_an_agent_brings_the_executors_and_policies_of_what_it_proposes(store) -> None:
    from factorybrain.agents import Policy, Recommendation, installed_orchestrator

    applied = []

    def quarantine(context, parameters):
        applied.append(dict(parameters))
        return {"material_lot": [{"external_id": parameters["lot"], "before": None}]}

    register_agent(
        "quarantiner",
        lambda: None,  # type: ignore[arg-type,return-value]
        executors={"material_lot.hold": quarantine},
        policies=[Policy("material_lot.hold", "engineer")],
    )
    try:
        orchestrator = installed_orchestrator(store, with_agents=False)
        action = orchestrator.propose(
            Recommendation("quality", (), "material_lot.hold", {"lot": "L-1"}),
            actor="agent:quality",
        )
        assert action.required_role == "engineer"
        done = orchestrator.approve(action.id, actor="user:eve", role="engineer")
        assert done.state == "executed" and applied == [{"lot": "L-1"}]
        register_agent("clash", lambda: None, executors={"notify": quarantine})  # type: ignore
        with pytest.raises(ParameterError, match="notify"):
            installed_orchestrator(store, with_agents=False)
    finally:
        unregister_agent("quarantiner")
        unregister_agent("clash")
