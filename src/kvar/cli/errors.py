"""How a command ends when something is wrong: at most three lines on stderr and exit status 2.

The first line says what is wrong and where (file, row, column), the next ones what to do. ``kvar --debug
COMMAND …`` shows the traceback instead. An exception that is not one of kvar's own errors is a bug in kvar;
it is still reported in three lines, saying so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from kvar.cli.output import stderr
from kvar.errors import KvarError
from kvar.i18n import tr

EXIT_ERROR = 2
_MAX_LINE = 400
debug = {"enabled": False}


def error_lines(message: str, limit: int = 3) -> list[str]:
    """``message`` as at most ``limit`` lines of at most 400 characters."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()] or ["unknown error"]
    return [line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…" for line in lines[:limit]]


def print_error(message: str) -> None:
    first, *rest = error_lines(message)
    stderr.print(tr("error: {first}").format(first=first), highlight=False, markup=False)
    for line in rest:
        stderr.print(f"  {line}", highlight=False, markup=False)


def handles_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn every exception into :func:`print_error` and exit status 2 (the traceback with ``--debug``)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KvarError as error:
            if debug["enabled"]:
                raise
            print_error(str(error))
            raise typer.Exit(EXIT_ERROR) from None
        except Exception as error:  # noqa: BLE001 - the last line of defence: never a traceback by default
            if debug["enabled"]:
                raise
            first = error_lines(str(error), 1)[0]
            print_error(
                tr(
                    "kvar failed unexpectedly ({name}: {first})\nthis is a bug in kvar: run the command again with `kvar --debug …` and report the traceback"
                ).format(name=type(error).__name__, first=first)
            )
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper
