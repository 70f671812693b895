"""DuckDB's memory for a command's queries: 3 GiB by default, or what KVAR_MEMORY_LIMIT says."""

from __future__ import annotations

import os

import duckdb
import pytest

from kvar.data.sql import limit_command_memory
from kvar.errors import ParameterError


def limit_of(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_command_gets_three_gib_by_default_or_80_percent_of_a_small_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KVAR_MEMORY_LIMIT", raising=False)
    con = duckdb.connect()
    limit_command_memory(con)
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    expected = duckdb.connect()
    expected.execute(f"SET memory_limit = '{min(3 * 1024**3, int(physical * 0.8))}B'")
    assert limit_of(con) == limit_of(expected)
    assert physical < 3.75 * 1024**3 or limit_of(con) == "3.0 GiB"


def test_the_environment_sets_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVAR_MEMORY_LIMIT", "500MiB")
    con = duckdb.connect()
    limit_command_memory(con)
    assert limit_of(con) == "500.0 MiB"


def test_a_size_duckdb_cannot_read_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVAR_MEMORY_LIMIT", "lots")
    with pytest.raises(ParameterError, match="KVAR_MEMORY_LIMIT='lots': expected a memory size such as 4GB"):
        limit_command_memory(duckdb.connect())
