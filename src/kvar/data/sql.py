"""The data layer's small SQL helpers, written once: string literals and table introspection in DuckDB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from kvar.errors import ParameterError
from kvar.i18n import tr

#: DuckDB's memory while a file is loaded: beyond it, it spills to its temporary folder instead of growing.
LOAD_MEMORY = "768MB"

#: The environment variable that sets DuckDB's memory for a command's queries (DuckDB's syntax: ``4GB``).
MEMORY_VARIABLE = "KVAR_MEMORY_LIMIT"

#: A command's queries by default: 3 GiB, or 80 % of the machine's memory when that is less.
COMMAND_MEMORY_BYTES = 3 << 30


def limit_command_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Limit DuckDB's memory for a command's queries to ``$KVAR_MEMORY_LIMIT`` or, by default,
    :data:`COMMAND_MEMORY_BYTES` (less on a small machine): past it, a query over 100M rows spills to
    the temporary folder instead of taking most of the machine (DuckDB's own default is 80 % of it).

    Raises :class:`~kvar.errors.ParameterError` when the variable is not a size DuckDB reads.
    """
    chosen = os.environ.get(MEMORY_VARIABLE, "").strip()
    if not chosen:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
        bytes_ = min(COMMAND_MEMORY_BYTES, int(physical * 0.8)) if physical > 0 else COMMAND_MEMORY_BYTES
        chosen = f"{bytes_}B"
    try:
        con.execute(f"SET memory_limit = {literal(chosen)}").fetchall()
    except duckdb.Error as error:
        raise ParameterError(
            tr("{variable}={value!r}: expected a memory size such as 4GB or 500MB").format(
                variable=MEMORY_VARIABLE, value=chosen
            )
        ) from error


#: DuckDB optimizers a command's metric queries run without. ``window_self_join`` rewrites an aggregate over
#: a window partition (``count(*) OVER (PARTITION BY k)``) as a join with a GROUP BY of the same input. A
#: metric is a chain of views, nothing materialised in between, so that input (every transaction grouped
#: into customers, say) was computed twice. Without it, at 10M transactions: ``segments --summary`` 2.4 s
#: -> 1.95 s, ``mrr`` 2.7 s -> 2.25 s; no command slower, every answer the same.
DISABLED_OPTIMIZERS = ("window_self_join",)


def tune_for_metrics(con: duckdb.DuckDBPyConnection) -> None:
    """Switch off :data:`DISABLED_OPTIMIZERS` on the connection a command's metrics run on."""
    con.execute(f"SET disabled_optimizers = {literal(','.join(DISABLED_OPTIMIZERS))}").fetchall()


def literal(text: Path | str) -> str:
    """``text`` (a value, a name or a path) as an SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The column names of ``table``, in order."""
    return [row[0] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the database's main schema has a table ``name``."""
    (found,) = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'", [name]
    ).fetchall()[0]
    return bool(found)


@contextmanager
def memory_budget(con: duckdb.DuckDBPyConnection, limit: str = LOAD_MEMORY) -> Iterator[None]:
    """Run the block with DuckDB's memory limited to ``limit`` (e.g. ``768MB``), then restore the limit."""
    (current,) = con.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    con.execute(f"SET memory_limit = {literal(limit)}").fetchall()
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = {literal(current)}").fetchall()
