"""The embedded workspace: one DuckDB database file holding the customer's tables.

Tables: the canonical tables (``customers``, ``transactions``, ``subscriptions``, ``events``,
``feedback``, ``payments``) created on their first load, each row carrying ``source_file`` and
``source_row``; ``rejects`` (every rejected row with file, row, column, value, reason and its raw values
as JSON); ``loads`` (one row per file loaded, with its SHA-256, so loading the same content twice changes
nothing); ``kvar_meta`` (marks the file as a kvar workspace).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import duckdb

from kvar.data.contracts import CONTRACTS
from kvar.data.file_facts import facts_soon
from kvar.data.loading import FileLoad, create_rejects_table, load_file
from kvar.data.sql import has_table, literal, memory_budget, table_columns
from kvar.data.validation import LoadContext, require_one_currency
from kvar.errors import KvarError, WorkspaceError
from kvar.i18n import tr

DEFAULT_PATH = Path("kvar.duckdb")
_FORMAT_VERSION = "1"


class Workspace:
    """An open workspace file. Use :meth:`create` for a new one and :meth:`open` for an existing one."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def create(cls, path: Path | str = DEFAULT_PATH) -> Workspace:
        """Create (or reopen) a workspace file with its bookkeeping tables."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
        con.execute("SET TimeZone = 'UTC'").fetchall()
        con.execute("CREATE TABLE IF NOT EXISTS kvar_meta (key VARCHAR PRIMARY KEY, value VARCHAR)").fetchall()
        con.execute("INSERT OR IGNORE INTO kvar_meta VALUES ('format_version', ?)", [_FORMAT_VERSION]).fetchall()
        con.execute(
            "CREATE TABLE IF NOT EXISTS loads (table_name VARCHAR, file VARCHAR, sha256 VARCHAR, "
            "rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, loaded_at TIMESTAMP)"
        ).fetchall()
        create_rejects_table(con)
        return cls(con, path)

    @classmethod
    def open(cls, path: Path | str = DEFAULT_PATH, *, read_only: bool = False) -> Workspace:
        """Open an existing workspace; :class:`WorkspaceError` if it is missing, not kvar's, or held by a writer
        in another process. Several processes may hold it ``read_only`` at once (flows workers)."""
        path = Path(path)
        if not path.exists():
            raise WorkspaceError(tr("{path}: no workspace here. Hint: run `kvar init {path}` first").format(path=path))
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise WorkspaceError(
                    tr("{path}: not a DuckDB database ({error})").format(path=path, error=error)
                ) from error
            raise WorkspaceError(
                tr("{path}: in use by another kvar process that is writing to it; try again when it is done").format(
                    path=path
                )
            ) from error
        except duckdb.Error as error:
            raise WorkspaceError(
                tr("{path}: not a DuckDB database ({error})").format(path=path, error=error)
            ) from error
        if not has_table(con, "kvar_meta"):
            con.close()
            raise WorkspaceError(
                tr("{path}: a DuckDB file, but not a kvar workspace (no kvar_meta table)").format(path=path)
            )
        con.execute("SET TimeZone = 'UTC'").fetchall()
        return cls(con, path)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(
        self,
        table: str,
        path: Path | str,
        mapping: Mapping[str, str] | None = None,
        context: LoadContext | None = None,
    ) -> FileLoad:
        """Validate ``path`` as ``table`` and append its accepted rows; record rejects and the load.

        A file whose content (SHA-256) was loaded into the same table before is skipped; with the values
        of its folder names (``context.folders``), the same content under other values is other rows. The
        digest is computed while the file is validated, except when a file of the same name was loaded
        before: a load run again is settled by the digest alone, before any validation.
        """
        path = Path(path)
        facts = facts_soon(path) if path.is_file() else None
        folders = context.folders if context else {}

        def digest() -> str:
            """The file's SHA-256 (with its folder names' values), waited for when first needed; empty for
            what is not a regular file."""
            content = facts.result().sha256 if facts is not None else ""
            if not content or not folders:
                return content
            return hashlib.sha256(json.dumps([content, sorted(folders.items())]).encode()).hexdigest()

        if self._loaded_before(table, "file", str(path)) and self._loaded_before(table, "sha256", digest()):
            return self._skipped(table, path, digest())
        con = self.connection
        base = context or LoadContext()
        exists = has_table(con, table)
        stored = tuple(self.columns(table)) if exists else ()
        has_customers = table != "customers" and has_table(con, "customers") and self.count("customers") > 0
        context = replace(
            base,
            existing_keys_table=f'"{table}"' if exists else None,
            existing_columns=stored,
            customers_table="customers" if has_customers else None,
        )
        try:
            result = load_file(con, table, path, mapping, context)
        except KvarError:  # the content loaded before under another name: every row is already loaded
            if self._loaded_before(table, "sha256", digest()):
                return self._skipped(table, path, digest())
            raise
        if self._loaded_before(table, "sha256", digest()):
            return self._skipped(table, path, digest())
        result = replace(result, sha256=digest())
        if exists:  # the table's rows and the file's are added up together: one currency across them
            where = tr("{file} with the rows already in the workspace").format(file=result.file)
            require_one_currency(con, [table, result.accepted_table], CONTRACTS[table], where)
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            with memory_budget(con):
                self._append(table, result, exists)
            con.execute(f'INSERT INTO rejects SELECT *, now()::TIMESTAMP FROM "{result.rejects_table}"').fetchall()
            con.execute(
                "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [table, str(path), result.sha256, result.rows_read, result.rows_loaded, result.rows_rejected],
            ).fetchall()
            con.execute("COMMIT").fetchall()
        except duckdb.Error:
            con.execute("ROLLBACK").fetchall()
            raise
        return result

    def _loaded_before(self, table: str, column: str, value: str) -> bool:
        """Whether a load into ``table`` recorded ``value`` as its ``column`` (``file`` or ``sha256``); never
        for an empty value."""
        return bool(value) and bool(
            self.connection.execute(
                f"SELECT 1 FROM loads WHERE table_name = ? AND {column} = ? LIMIT 1", [table, value]
            ).fetchall()
        )

    @staticmethod
    def _skipped(table: str, path: Path, sha256: str) -> FileLoad:
        return FileLoad(table, str(path), sha256, 0, 0, 0, (), (), "", "", skipped=True)

    def _append(self, table: str, result: FileLoad, exists: bool) -> None:
        con = self.connection
        source = (
            f"SELECT * EXCLUDE (_row), {literal(result.file)} AS source_file, _row AS source_row "
            f'FROM "{result.accepted_table}"'
        )
        if not exists:
            con.execute(f'CREATE TABLE "{table}" AS {source}').fetchall()
            return
        current = set(self.columns(table))
        for name, kind in con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {source})").fetchall():
            if name not in current:
                con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {kind}').fetchall()
        con.execute(f'INSERT INTO "{table}" BY NAME {source}').fetchall()

    def columns(self, table: str) -> list[str]:
        return table_columns(self.connection, table)

    def count(self, table: str) -> int:
        (rows,) = self.connection.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0]
        return int(rows)

    def has(self, table: str) -> bool:
        return has_table(self.connection, table)

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A lazy relation over a workspace table, ready for the metrics."""
        if not self.has(name):
            loaded = ", ".join(self.tables()) or "none"
            raise WorkspaceError(
                tr("{path}: no {name} table loaded yet (loaded: {loaded}). Hint: kvar load {name} FILE").format(
                    path=self.path, name=name, loaded=loaded
                )
            )
        return self.connection.table(name)

    def tables(self) -> dict[str, int]:
        """Row counts of the canonical tables loaded so far."""
        return {name: self.count(name) for name in CONTRACTS if self.has(name)}

    def rejects(self, table: str | None = None) -> duckdb.DuckDBPyRelation:
        relation = self.connection.table("rejects")
        return relation.filter(f"table_name = {literal(table)}") if table else relation

    def rejected(self, table: str) -> int:
        """How many rows of ``table``'s files were rejected (kept in :meth:`rejects` with their reasons)."""
        (rows,) = self.rejects(table).aggregate("count(*)").fetchall()[0]
        return int(rows)
