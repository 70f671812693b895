"""Where a command's tables come from: files given on the command line, or a workspace."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from kvar.cli.output import follow_engine, stage, stderr
from kvar.data.contracts import contract_for
from kvar.data.loading import FileLoad, export_rejects, load_location
from kvar.data.mapping import TableMappings
from kvar.data.reasons import shown_reason
from kvar.data.sql import limit_command_memory, tune_for_metrics
from kvar.data.validation import LoadContext
from kvar.data.workspace import Workspace
from kvar.errors import ParameterError
from kvar.i18n import tr
from kvar.i18n.formatting import decimal_comma, number

_SHOWN_VALUE = 60


@dataclass
class Sources:
    """Loads files into one in-memory DuckDB database (or reads a workspace), or with ``spark_master``
    set (``--engine spark``) into Spark, and remembers the loads."""

    mappings: TableMappings = field(default_factory=lambda: TableMappings({}, {}))
    context: LoadContext = field(default_factory=LoadContext)
    rejects_path: Path | None = None
    workspace: Workspace | None = None
    loads: list[FileLoad] = field(default_factory=list)
    engine: str = "duckdb"
    spark_master: str | None = None

    def __post_init__(self) -> None:
        self._spill: tempfile.TemporaryDirectory[str] | None = None
        self._rejected: list[str] = []  # the rejects tables of the loads with rejects, for --rejects
        self.spark: Any = None
        self._own_spark = False
        if self.engine == "spark":  # files only: a workspace is DuckDB's (checked with the options)
            from kvar.data.spark_session import spark_session

            with stage(tr("starting Spark")):
                self.spark, self._own_spark = spark_session(self.spark_master)
            return
        if self.workspace:
            self.connection = self.workspace.connection
        else:  # an in-memory database spills into a folder of its own, never into the current one
            self._spill = tempfile.TemporaryDirectory(prefix="kvar-spill-")
            self.connection = duckdb.connect(config={"temp_directory": self._spill.name})
        self.connection.execute("SET TimeZone = 'UTC'").fetchall()
        limit_command_memory(self.connection)
        tune_for_metrics(self.connection)
        # DuckDB's own estimate of a running query, read by stage(); DuckDB prints nothing itself
        self.connection.execute("SET enable_progress_bar = true").fetchall()
        self.connection.execute("SET enable_progress_bar_print = false").fetchall()
        follow_engine(self.connection)

    def close(self) -> None:
        if self.spark is not None:
            if self._own_spark:
                self.spark.stop()
            return
        self.connection.close()
        if self._spill is not None:
            self._spill.cleanup()

    def table(self, name: str, path: Path | None) -> Any:
        """The validated rows of ``path`` (a file, or a folder or a glob of files read as one table) as
        ``name`` (a DuckDB relation, or a Spark DataFrame) or, without a path, the workspace's table."""
        if path is None:
            if self.workspace is None:
                raise ParameterError(tr("give --{name} FILE (or --workspace FILE)").format(name=name))
            return self.workspace.table(name)
        mapping = self.mappings.for_table(contract_for(name))
        with stage(tr("reading and validating {name}").format(name=path.name)):
            if self.spark is not None:
                from kvar.data.spark_loading import load_into_spark

                result = load_into_spark(self.spark, name, path, mapping, self.context)
            else:
                result = load_location(self.connection, name, path, mapping, self.context)
        self._record(result)
        if self.spark is not None:
            return self.spark.table(result.accepted_table)
        return self.connection.table(result.accepted_table)

    def load_into_workspace(self, name: str, path: Path, folders: Mapping[str, str | None]) -> FileLoad:
        """Add ``path``'s rows to the workspace's table ``name`` (``kvar load``), with the columns its
        folder names give (:func:`kvar.data.locations.folder_values`)."""
        assert self.workspace is not None
        mapping, context = self.mappings.for_table(contract_for(name)), replace(self.context, folders=folders)
        with stage(tr("loading {name}").format(name=path.name)):
            result = self.workspace.load(name, path, mapping, context)
        self._record(result)
        return result

    def table_if_given(self, name: str, path: Path | None) -> Any:
        """The file's rows when a path is given, else the workspace's table if it has one, else None."""
        if path is not None:
            return self.table(name, path)
        if self.workspace is not None and self.workspace.has(name):
            return self.workspace.table(name)
        return None

    def _record(self, result: FileLoad) -> None:
        self.loads.append(result)
        report_load(result)
        if self.rejects_path and result.rows_rejected and not result.skipped:
            # the file holds every load's rejects so far: written again whole, never overwritten by the last
            self._rejected.append(result.rejects_table)
            if self.spark is not None:
                from kvar.data.spark_loading import export_spark_rejects

                export_spark_rejects(self.spark, self._rejected, self.rejects_path, excel=decimal_comma())
            else:
                export_rejects(self.connection, self._rejected, self.rejects_path, excel=decimal_comma())
            stderr.print(
                "  " + tr("rejects written to {path}").format(path=self.rejects_path), highlight=False, markup=False
            )

    def rejects_summary(self) -> list[dict[str, object]]:
        return [
            {
                "file": load.file,
                "table": load.table,
                "rows_read": load.rows_read,
                "rows_loaded": load.rows_loaded,
                "rows_rejected": load.rows_rejected,
                "encoding": load.encoding,
                "read_as": list(load.read_as),
            }
            for load in self.loads
        ]


def _shown(value: str | None) -> str:
    if value is None:
        return ""
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


def report_load(result: FileLoad) -> None:
    """One summary line on stderr, plus the commonest reasons and first rejected rows when there are any."""
    stderr.print(result.summary(), highlight=False, markup=False)
    for column, reason, rows in result.reasons[:5]:
        stderr.print(
            "  "
            + tr("{rows} × {column}: {reason}").format(rows=number(rows), column=column, reason=shown_reason(reason)),
            highlight=False,
            markup=False,
        )
    for file, row, column_name, value, reason in result.first_rejects[:3]:
        where = (
            tr("row {row}, {column}={value}").format(row=row, column=column_name, value=_shown(value))
            if column_name
            else tr("line {row}").format(row=row)
        )
        if file != result.file:  # a file of a folder or glob: which one (from here when it is below)
            below = Path(file).is_relative_to(Path.cwd())
            where = f"{Path(file).relative_to(Path.cwd()) if below else file}, {where}"
        stderr.print(
            "  " + tr("e.g. {where}: {reason}").format(where=where, reason=shown_reason(reason)),
            highlight=False,
            markup=False,
        )


def customers_for(sources: Sources, customers: Path | None, by: str | None) -> duckdb.DuckDBPyRelation | None:
    """The customers table a split ``--by`` may read: the file given, else the workspace's, else none."""
    if customers is not None:
        return sources.table("customers", customers)
    return sources.table_if_given("customers", None) if by else None


def source_kind(transactions: Path | None, subscriptions: Path | None, sources: Sources) -> str:
    """``transactions`` or ``subscriptions``: which business model a command measures."""
    if transactions and subscriptions:
        raise ParameterError(tr("give --transactions or --subscriptions, not both"))
    if transactions:
        return "transactions"
    if subscriptions:
        return "subscriptions"
    from kvar.metrics.activity import defining_table

    space = sources.workspace
    return defining_table(
        space is not None and space.has("transactions"), space is not None and space.has("subscriptions")
    )
