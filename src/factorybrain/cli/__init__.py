"""The ``factorybrain`` command: a thin layer over the Python API.

Every command's help ends with an example; errors print one line naming the file, row or field and
exit with status 1. Each command group is a module of this package with its own Typer app; this
module composes them into one command, in the order ``factorybrain --help`` lists them.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperOption

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


def _flags_without_a_type() -> None:
    """Show a flag in help as ``--json``, not ``--json <bool>``: a flag takes no value.

    Typer's rich help prints every option's value type, flags (``--help`` included) too; the
    type of a flag is noise that reads as if it wanted ``true`` or ``false`` after it.
    """
    shown = TyperOption.display_type_rich
    if getattr(shown, "flags_without_a_type", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and not self.count:
            return None
        return shown(self, ctx)

    display_type_rich.flags_without_a_type = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_a_type()

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
