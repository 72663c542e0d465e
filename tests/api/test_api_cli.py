from __future__ import annotations


def test_serve_and_mcp_commands_refuse_bad_input_with_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from factorybrain.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no store at" in missing.output
    path = tmp_path / "plant.duckdb"
    runner.invoke(app, ["init", "--db", str(path)])
    bad = runner.invoke(app, ["mcp", "--db", str(path), "--transport", "carrier-pigeon"])
    assert bad.exit_code == 2 and "stdio or http" in " ".join(bad.output.split())


def _serving(monkeypatch) -> list[dict]:
    """Record what a command would serve, in place of uvicorn, and whether it closes the store."""
    import uvicorn

    import factorybrain.api as api

    served: list[dict] = []
    real = api.create_app

    def create_app(store, **options):
        application = real(store, **options)
        served.append({"store": store, "app": application, **options})
        return application

    def run(application, **options):
        served[-1].update(run=application, open=bool(served[-1]["store"].counts()), **options)

    monkeypatch.setattr(api, "create_app", create_app)
    monkeypatch.setattr(uvicorn, "run", run)
    return served


def _dashboard_mounted(application) -> bool:
    return any(getattr(route, "path", None) == "/" for route in application.routes)


def test_serve_and_the_demo_serve_one_way_and_keep_their_own_setup(tmp_path, monkeypatch) -> None:
    import duckdb
    import pytest
    from typer.testing import CliRunner

    from factorybrain.api import TokenStore
    from factorybrain.cli import _common, app
    from factorybrain.cli import _demo as demo_commands
    from factorybrain.cli import _serving as serve_commands
    from factorybrain.store import open_store

    shared: list[str] = []
    for module, name in ((serve_commands, "serve"), (demo_commands, "demo")):

        def through(*args, _name=name, **kwargs):
            shared.append(_name)
            return _common.serve_until_stopped(*args, **kwargs)

        monkeypatch.setattr(module, "serve_until_stopped", through)
    served = _serving(monkeypatch)
    path = tmp_path / "plant.duckdb"
    CliRunner().invoke(app, ["init", "--db", str(path)])

    answer = CliRunner().invoke(app, ["serve", "--db", str(path), "--port", "8123"])
    assert answer.exit_code == 0, answer.output
    serve = served[-1]
    assert serve["prepare"] is True and serve["schedule_every"] == 60.0
    assert serve["orchestrator"].agents  # the installed agents run on their schedules
    assert serve["run"] is serve["app"] and _dashboard_mounted(serve["app"])
    assert (serve["host"], serve["port"], serve["open"]) == ("127.0.0.1", 8123, True)
    assert "dashboard at /, API docs at /docs" in " ".join(answer.output.split())
    with pytest.raises(duckdb.ConnectionException):  # closed once the server stops
        serve["store"].counts()

    demo_commands._serve_dashboard(path, port=8124)
    demo = served[-1]
    assert demo["prepare"] is True and demo.get("schedule_every") is None
    assert not demo["orchestrator"].agents
    assert demo["run"] is demo["app"] and _dashboard_mounted(demo["app"])
    assert (demo["port"], demo["open"]) == (8124, True)
    with pytest.raises(duckdb.ConnectionException):
        demo["store"].counts()
    with open_store(path, read_only=True) as reopened:
        planners = [t for t in TokenStore(reopened).list() if t.role == "planner"]
    assert [t.name for t in planners] == ["demo-planner"] and planners[0].expires_at
    assert shared == ["serve", "demo"]
