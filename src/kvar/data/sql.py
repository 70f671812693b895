"""The data layer's small SQL helpers, written once: string literals and table introspection in DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb


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
