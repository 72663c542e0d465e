"""The ``factorybrain`` command: a thin layer over the Python API.

Every command's help ends with an example; errors print one line naming the file, row or field and
exit with status 1. Each command group is a module of this package with its own Typer app; this
module composes them into one command, in the order ``factorybrain --help`` lists them.
"""

from __future__ import annotations

import typer

from factorybrain.cli import (
    _agents,
    _backup,
    _context,
    _demo,
    _live,
    _logistics,
    _planning,
    _serving,
    _store,
)

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="factorybrain: one contextualized factory model and the agents that act on it.",
)
# Added without a name, a group's commands (then its named sub-groups) join the top level.
for _group in (_store, _serving, _backup, _agents, _demo, _planning, _live, _context, _logistics):
    app.add_typer(_group.app)


def main() -> None:
    """Entry point for ``python -m factorybrain``."""
    app()


__all__ = ["app", "main"]
