"""Where a command's tables come from: files given on the command line, or a workspace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kvar.cli.output import stderr
from kvar.data.loading import FileLoad, load_file, read_fx_table
from kvar.data.validation import LoadContext
from kvar.data.mapping import parse_map_options
from kvar.data.workspace import Workspace
from kvar.errors import ParameterError


@dataclass
class Sources:
    """Loads files into one in-memory DuckDB database (or reads a workspace) and remembers the rejects."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    context: LoadContext = field(default_factory=LoadContext)
    rejects_path: Path | None = None
    workspace: Workspace | None = None
    loads: list[FileLoad] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.connection = self.workspace.connection if self.workspace else duckdb.connect()
        self.connection.execute("SET TimeZone = 'UTC'").fetchall()

    def table(self, name: str, path: Path | None) -> duckdb.DuckDBPyRelation:
        """The validated rows of ``path`` as ``name`` or, without a path, the workspace's table."""
        if path is None:
            if self.workspace is None:
                raise ParameterError(f"give --{name} FILE (or --workspace PATH)")
            return self.workspace.table(name)
        with stderr.status(f"reading and validating {path.name} …"):
            result = load_file(self.connection, name, path, self.mapping, self.context)
        self.loads.append(result)
        report_load(result)
        if self.rejects_path and result.rows_rejected:
            self.connection.execute(
                f"COPY (SELECT * FROM \"{result.rejects_table}\" ORDER BY row) TO '{self.rejects_path}' (HEADER)"
            ).fetchall()
            stderr.print(f"  rejects written to {self.rejects_path}")
        return self.connection.table(result.accepted_table)

    def table_if_given(self, name: str, path: Path | None) -> duckdb.DuckDBPyRelation | None:
        """The file's rows when a path is given, else the workspace's table if it has one, else None."""
        if path is not None:
            return self.table(name, path)
        if self.workspace is not None and self.workspace.has(name):
            return self.workspace.table(name)
        return None

    def rejects_summary(self) -> list[dict[str, object]]:
        return [
            {"file": load.file, "table": load.table, "rows_read": load.rows_read, "rows_loaded": load.rows_loaded, "rows_rejected": load.rows_rejected}
            for load in self.loads
        ]


def report_load(result: FileLoad) -> None:
    """One summary line on stderr, plus the commonest reasons and first rejected rows when there are any."""
    stderr.print(result.summary(), highlight=False)
    for column, reason, rows in result.reasons[:5]:
        stderr.print(f"  {rows:,} × {column}: {reason}", highlight=False)
    for row, column, value, reason in result.first_rejects[:3]:
        stderr.print(f"  e.g. row {row}, {column}={value!r}: {reason}", highlight=False)


def open_sources(
    mapping: list[str],
    timezone: str,
    date_format: str | None,
    fx: Path | None,
    base_currency: str | None,
    rejects: Path | None,
    workspace: Path | None,
) -> Sources:
    """Sources for one command, from its loading options."""
    return Sources(
        mapping=parse_map_options(mapping),
        context=load_context(timezone, date_format, fx, base_currency),
        rejects_path=rejects,
        workspace=Workspace.open(workspace) if workspace else None,
    )


def source_kind(transactions: Path | None, subscriptions: Path | None, workspace: Path | None) -> str:
    """``transactions`` or ``subscriptions``: which business model a command measures."""
    if transactions and subscriptions:
        raise ParameterError("give --transactions or --subscriptions, not both")
    if transactions:
        return "transactions"
    if subscriptions:
        return "subscriptions"
    if workspace:
        with Workspace.open(workspace) as space:
            return "subscriptions" if space.has("subscriptions") else "transactions"
    raise ParameterError("give --transactions FILE or --subscriptions FILE (or --workspace PATH)")


def load_context(timezone: str, date_format: str | None, fx: Path | None, base_currency: str | None) -> LoadContext:
    return LoadContext(
        timezone=timezone,
        date_format=date_format,
        fx_rates=read_fx_table(fx) if fx else None,
        base_currency=base_currency.upper() if base_currency else None,
    )
