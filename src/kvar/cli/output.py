"""Printing results: JSON or CSV for scripts (stdout), Rich tables for people, progress on stderr.

JSON is one object with ``command``, ``parameters`` and a ``rows`` list, the same in every locale; CSV is
the rows with every column (in a decimal-comma locale as Excel there reads it: UTF-8 with BOM, ``;``
between fields, decimal comma). A terminal table writes numbers and dates in the active locale; it shows the columns that fit the width (the command's chosen ones first) and names the
others. Stages of long work show on a terminal's stderr: a spinner with the elapsed time and how far the
engine's query is; nothing on a pipe or with ``--json``, and never on stdout.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import datetime as dt
import itertools
import json
import math
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from kvar.cli.headings import heading
from kvar.i18n import tr
from kvar.i18n.formatting import date, decimal_comma, number

stderr = Console(stderr=True, soft_wrap=True)
stdout = Console()
_SLOW_STAGE = 2.0  # seconds
_FOLD_AT = 40  # a wider cell (text) is folded onto more lines rather than hiding the column


_quiet = contextvars.ContextVar("kvar_quiet_progress", default=False)
_engine: list[Any] = []  # the DuckDB connection whose running query a stage reports on


def follow_engine(connection: Any) -> None:
    """Report how far the queries of this DuckDB connection have come in the stages that follow."""
    _engine[:] = [connection]


@contextlib.contextmanager
def progress_quiet(quiet: bool) -> Iterator[None]:
    """Show no progress in the block when ``quiet`` (``--json``: the output is for a program)."""
    token = _quiet.set(quiet)
    try:
        yield
    finally:
        _quiet.reset(token)


@contextlib.contextmanager
def stage(description: str) -> Iterator[None]:
    """Show that ``description`` is under way, on a terminal only (never on a pipe, never with ``--json``):
    a spinner with the elapsed seconds and how far the engine's running query is (DuckDB's own estimate,
    in percent of the rows it will read), then one line when it ends if that took 2 s or more."""
    if _quiet.get() or not stderr.is_terminal:
        yield
        return
    started = time.perf_counter()
    finished = threading.Event()
    with stderr.status(f"{description} …") as status:

        def follow() -> None:
            while not finished.wait(0.25):
                status.update(_progress(description, time.perf_counter() - started))

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        try:
            yield
        finally:
            finished.set()
            watcher.join()
    if (elapsed := time.perf_counter() - started) >= _SLOW_STAGE:
        stderr.print(
            tr("{stage}: done in {seconds} s").format(stage=description, seconds=number(elapsed, 1)),
            highlight=False,
            markup=False,
        )


def _progress(description: str, elapsed: float) -> str:
    """e.g. ``reading and validating tx.parquet … 3.2 s, 41 %`` (the percent while a query runs)."""
    shown = f"{description} … {number(elapsed, 1)} s"
    if _engine:
        try:
            done = float(_engine[0].query_progress())
        except Exception:  # the connection closed or is between queries: only the time is known
            done = -1.0
        if done >= 0:
            shown += f", {number(done, 0)} %"
    return shown


_AS_IS = frozenset({str, int, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Plain JSON values: ISO dates, floats without NaN, Decimals as floats."""
    kind = type(value)
    if kind in _AS_IS:  # the common case first: a result may hold millions of values
        return value
    if kind is float:
        return value if math.isfinite(value) else None
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


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One result row as plain JSON values (:func:`jsonable`), without a call per value that is plain already."""
    return {
        str(key): value if type(value) in _AS_IS or (type(value) is float and math.isfinite(value)) else jsonable(value)
        for key, value in row.items()
    }


def print_json(command: str, parameters: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], **extra: Any) -> None:
    """The document ``{"command", "parameters", "rows", **extra}`` on stdout, one line. The rows are
    written as they come, a batch at a time, so that millions of them need not be held as JSON at once;
    the text is exactly ``json.dumps`` of the whole document."""
    head = json.dumps({"command": command, "parameters": jsonable(parameters), "rows": []}, ensure_ascii=False)
    tail = json.dumps(jsonable(extra), ensure_ascii=False)
    write = sys.stdout.write
    write(head[: -len("]}")])
    rows_iterator = iter(rows)
    first = True
    while batch := [_json_row(row) for row in itertools.islice(rows_iterator, _JSON_BATCH_ROWS)]:
        write(("" if first else ", ") + json.dumps(batch, ensure_ascii=False)[1:-1])
        first = False
    write("]" + ("}" if tail == "{}" else ", " + tail[1:]) + "\n")


_JSON_BATCH_ROWS = 10_000


def _csv_value(value: Any, comma: bool) -> Any:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if comma else "; ".join(map(str, value))
    value = jsonable(value)
    return str(value).replace(".", ",") if comma and isinstance(value, float) else value


def print_csv(rows: Iterable[Mapping[str, Any]]) -> None:
    """The rows as CSV with a header (every column; lists joined with "; "), numbers unrounded. In a
    decimal-comma locale: a UTF-8 BOM, ``;`` between fields and a decimal comma, as Excel there expects."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    comma = decimal_comma()
    if comma:
        sys.stdout.write("\ufeff")
    writer = csv.DictWriter(
        sys.stdout,
        fieldnames=list(first),
        lineterminator="\n",
        extrasaction="ignore",
        delimiter=";" if comma else ",",
    )
    writer.writeheader()
    for row in itertools.chain([first], rows):
        writer.writerow({key: _csv_value(value, comma) for key, value in row.items()})


def emit(
    command: str,
    parameters: Mapping[str, Any],
    rows: Iterable[Mapping[str, Any]],
    as_json: bool,
    title: str | None = None,
    as_csv: bool = False,
    shown: Sequence[str] = (),
    **extra: Any,
) -> None:
    """JSON on stdout (with ``extra`` top-level keys), CSV, or a table titled ``title`` (default: the
    command) showing the ``shown`` columns first."""
    if as_json:
        print_json(command, parameters, rows, **extra)
    elif as_csv:
        print_csv(rows)
    else:
        print_table(title or command, list(rows), shown=shown)


def _cell(value: Any) -> str:
    """A table cell in the active locale: numbers grouped (floats with 2 decimals), dates in its form."""
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return date(value) if value.time() == dt.time() else f"{date(value)} {value:%H:%M:%S}"
    if isinstance(value, dt.date):
        return date(value)
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    if isinstance(value, float):
        return number(value, 2)
    if isinstance(value, int):
        return number(value)
    return str(value)


def _width(name: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Characters a column needs: its widest cell or heading word, at most 40 (wider text is folded)."""
    return min(_FOLD_AT, max(*map(len, heading(name).split()), *(len(_cell(row.get(name))) for row in rows[:60])))


def fitting_columns(rows: Sequence[Mapping[str, Any]], width: int, shown: Sequence[str] = ()) -> list[str]:
    """The columns to show in ``width`` characters: ``shown`` ones first, then the others in order, as
    many as fit whole (each needs its widest cell or heading word, plus 3 for borders and padding)."""
    names = list(rows[0])
    ordered = [name for name in shown if name in names] + [name for name in names if name not in shown]
    chosen: list[str] = []
    used = 1
    for name in ordered:
        need = _width(name, rows) + 3
        if chosen and used + need > width:
            continue
        chosen.append(name)
        used += need
    return [name for name in ordered if name in chosen]


def print_table(title: str, rows: Sequence[Mapping[str, Any]], limit: int = 60, shown: Sequence[str] = ()) -> None:
    if not rows:
        stdout.print(tr("{title}: no rows").format(title=title), highlight=False, markup=False)
        return
    columns = fitting_columns(rows, stdout.width, shown)
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(
            textwrap.fill(heading(column), _width(column, rows)),
            justify="right" if not isinstance(rows[0][column], str) else "left",
            overflow="fold",
        )
    for row in rows[:limit]:
        table.add_row(*(_cell(row[column]) for column in columns))
    stdout.print(table)
    hidden = [heading(name) for name in rows[0] if name not in columns]
    if len(rows) > limit:
        stdout.print(
            tr("… {count} more rows (--json or --csv prints all)").format(count=number(len(rows) - limit)),
            highlight=False,
            markup=False,
        )
    if hidden:
        stdout.print(
            tr("{count} more column(s) not shown: {names} (--json or --csv prints all)").format(
                count=len(hidden), names=", ".join(hidden)
            ),
            highlight=False,
            markup=False,
        )
