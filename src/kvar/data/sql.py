"""The data layer's small SQL helpers, written once: string literals and table introspection in DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

#: DuckDB's memory while a file is loaded: beyond it, it spills to its temporary folder instead of growing.
LOAD_MEMORY = "768MB"


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
