"""Console output shared by the subcommands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    from rich.console import Console

    return Console(stderr=False, highlight=False)


def say(con: Console, line: str) -> None:
    """A line of ``sweep.launch``'s narration; warnings in yellow."""
    if line.startswith("warning: "):
        con.print(f"[yellow]warning:[/] {line[len('warning: ') :]}", markup=True)
    else:
        con.print(line, markup=False)


def print_warnings(con: Console, warns: list[str]) -> None:
    for w in warns:
        con.print(f"[yellow]warning:[/] {w}")
