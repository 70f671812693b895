"""Printing results: JSON for scripts (stdout, one object with a ``rows`` list) and Rich tables for people."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

stderr = Console(stderr=True, soft_wrap=True)
stdout = Console()


def jsonable(value: Any) -> Any:
    """Plain JSON values: ISO dates, floats without NaN, Decimals as floats."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def print_json(command: str, parameters: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], **extra: Any) -> None:
    document = {"command": command, "parameters": parameters, "rows": list(rows), **extra}
    sys.stdout.write(json.dumps(jsonable(document), ensure_ascii=False) + "\n")


def emit(command: str, parameters: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], as_json: bool,
         title: str | None = None, **extra: Any) -> None:
    """JSON on stdout (with ``extra`` top-level keys) or a table titled ``title`` (default: the command)."""
    if as_json:
        print_json(command, parameters, rows, **extra)
    else:
        print_table(title or command, rows)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, rows: Sequence[Mapping[str, Any]], limit: int = 60) -> None:
    if not rows:
        stdout.print(f"[bold]{title}[/bold]: no rows")
        return
    table = Table(title=title, show_lines=False)
    columns = list(rows[0])
    for column in columns:
        table.add_column(column, justify="right" if not isinstance(rows[0][column], str) else "left")
    for row in rows[:limit]:
        table.add_row(*(_cell(row[column]) for column in columns))
    stdout.print(table)
    if len(rows) > limit:
        stdout.print(f"… {len(rows) - limit} more rows (use --json for all)")
