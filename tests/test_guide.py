"""docs/guide.md stays true: its commands and options exist, its configuration table is complete."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factorybrain.cli import app

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"
runner = CliRunner()


def _commands() -> list[list[str]]:
    """Every ``factorybrain ...`` line of the guide's shell blocks, as words (comments cut)."""
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("factorybrain "):
                found.append(shlex.split(line)[1:])
    return found


def _help(words: list[str]) -> tuple[list[str], str, str | None]:
    """The command path of ``words``, its help page, and a word that is no subcommand of it.

    A group (a help page with commands) must be followed by one of its commands; a command's
    other words are its arguments and options.
    """
    path: list[str] = []
    page = ""
    for word in words:
        if word.startswith("-"):
            break
        answer = runner.invoke(app, [*path, word, "--help"], env={"COLUMNS": "200"})
        known = answer.exit_code == 0 and "Usage:" in answer.output
        # an argument's value (a file, an id) prints its command's help again
        if not known or (path and answer.output == page):
            return path, page, (word if not path or "Commands" in page else None)
        path, page = [*path, word], answer.output
    return path, page, None


COMMANDS = _commands()


def test_the_guide_shows_commands() -> None:
    assert len(COMMANDS) >= 30, "the guide's shell blocks should show the commands it explains"


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w)[:60] for w in COMMANDS])
def test_every_command_of_the_guide_exists_with_its_options(words: list[str]) -> None:
    path, page, unknown = _help(words)
    assert path and unknown is None, f"'factorybrain {' '.join(words)}': no command {unknown!r}"
    options = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    missing = [o for o in options if o not in page]
    assert not missing, f"'factorybrain {' '.join(path)}' has no option {missing}"


def test_every_environment_variable_the_code_reads_is_in_the_configuration_table() -> None:
    sources = (ROOT / "src" / "factorybrain").rglob("*.py")
    read = set()
    for source in sources:
        read |= set(re.findall(r"\bFACTORYBRAIN_[A-Z][A-Z0-9_]*[A-Z0-9]\b", source.read_text()))
    # FACTORYBRAIN_ alone is the prefix of the secrets' rule, not a variable
    table = GUIDE.read_text(encoding="utf-8").split("## 8. Configuration reference", 1)[1]
    table = table.split("\n## ", 1)[0]
    listed = set(re.findall(r"`(FACTORYBRAIN_[A-Z0-9_]+)`", table))
    assert read - listed == set(), "variables the code reads but the guide does not list"
    assert listed - read == set(), "variables the guide lists but the code never reads"
