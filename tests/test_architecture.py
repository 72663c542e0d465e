"""The import rules of docs/architecture.md hold, and the guide's picture is the rules' own."""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import factorybrain

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
GUIDE = ROOT / "docs" / "architecture.md"


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _names(layer: str) -> list[str]:
    return [name.strip() for name in re.split(r"[|:]", layer)]


def test_no_layer_imports_a_higher_one_and_no_import_circle_exists(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The use case itself: the command-line entry would reconfigure the process's logging.
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()
    monkeypatch.chdir(ROOT)
    kept = lint_imports(config_filename=str(PYPROJECT), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, report
    assert "0 broken" in report and "No import circle, at any depth KEPT" in report


def test_every_module_of_the_package_has_its_place_in_the_layers() -> None:
    placed = {n for layer in _contracts()["layers"]["layers"] for n in _names(layer)}
    modules = {
        f"factorybrain.{module.name}" for module in pkgutil.iter_modules(factorybrain.__path__)
    }
    assert modules - placed == set(), "add these to the layers (pyproject.toml, the guide)"
    assert placed - modules == set(), "these layers name modules that do not exist"


def test_the_guide_draws_the_layers_the_rules_check() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:.*?-->\n```text\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md lost its layers block"
    drawn = [
        [name for name in _names(re.split(r"\s{2,}", line.strip())[0])]
        for line in block.group(1).splitlines()
        if line.strip()
    ]
    checked = [_names(layer) for layer in _contracts()["layers"]["layers"]]
    assert drawn == checked
