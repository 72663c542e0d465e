from __future__ import annotations


def test_serve_and_mcp_commands_refuse_bad_input_with_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    import factorybrain._agent_commands  # noqa: F401
    from factorybrain.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no store at" in missing.output
    path = tmp_path / "plant.duckdb"
    runner.invoke(app, ["init", "--db", str(path)])
    bad = runner.invoke(app, ["mcp", "--db", str(path), "--transport", "carrier-pigeon"])
    assert bad.exit_code == 1 and "stdio or http" in bad.output
