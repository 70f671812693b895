"""Load one file into a DuckDB connection: read, map, validate, and keep the rejects.

This is the one path every file takes, whether it goes into a persistent workspace (``kvar load``) or
into an in-memory database for a one-off command (``kvar retention --transactions FILE``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from kvar.data.contracts import contract_for
from kvar.data.locations import files_named, folder_values
from kvar.data.mapping import resolve
from kvar.data.reading import read_raw
from kvar.data.reasons import FIRST_SEEN, shown_reason
from kvar.data.small_tables import read_small_csv, small_number
from kvar.data.sql import literal, memory_budget
from kvar.data.validation import (
    REJECTS_COLUMNS,
    FileSet,
    LoadContext,
    Validated,
    require_one_currency,
    validate,
)
from kvar.errors import FileFormatError, ValidationError
from kvar.i18n import tr
from kvar.i18n.formatting import number

_names = (f"_kvar_raw_{number}" for number in itertools.count())


@dataclass(frozen=True)
class FileLoad:
    """What happened to one file: counts, the commonest reasons, and where the rows went."""

    table: str
    file: str
    sha256: str  # of the file, recorded by a workspace load; empty for a one-off command's load
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    reasons: tuple[tuple[str, str, int], ...]  # (column, reason, rows), commonest first
    first_rejects: tuple[tuple[str, int, str | None, str | None, str], ...]  # (file, row, column, value, reason)
    accepted_table: str
    rejects_table: str
    skipped: bool = False
    encoding: str = ""  # how a text file was decoded, e.g. "Windows-1252"; empty for Parquet
    read_as: tuple[str, ...] = ()  # columns read in a format other than the default, e.g. "amount: decimal comma"

    def summary(self) -> str:
        """One line for people, e.g. ``orders.csv -> transactions: 1,000 read, 998 loaded, 2 rejected``."""
        if self.skipped:
            return tr("{file} -> {table}: already loaded (same content), nothing changed").format(
                file=self.file, table=self.table
            )
        encoding = self.encoding.removesuffix(" with BOM")
        shown = tr("{encoding} with BOM").format(encoding=encoding) if encoding != self.encoding else encoding
        decoded = f" ({shown})" if self.encoding and self.encoding != "UTF-8" else ""
        read_as = "".join(f"; {note}" for note in self.read_as)
        counts = tr("{read} read, {loaded} loaded, {rejected} rejected").format(
            read=number(self.rows_read), loaded=number(self.rows_loaded), rejected=number(self.rows_rejected)
        )
        return f"{self.file}{decoded} -> {self.table}: {counts}{read_as}"


def load_file(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path | str,
    mapping: Mapping[str, str] | None = None,
    context: LoadContext | None = None,
) -> FileLoad:
    """Read and validate ``path`` as ``table``; leave accepted rows and rejects in temporary tables (the
    file's digest is left empty: a workspace load, which records it, adds it).

    Raises :class:`~kvar.errors.FileFormatError`, :class:`~kvar.errors.MappingError` or
    :class:`~kvar.errors.ValidationError` when the file as a whole cannot be loaded.
    """
    with memory_budget(con):
        checked, encoding = _checked(con, table, Path(path), mapping, context or LoadContext())
    _require_rows(con, checked, str(path))
    return _outcome(con, table, str(path), checked, encoding)


def load_location(
    con: duckdb.DuckDBPyConnection,
    table: str,
    location: Path | str,
    mapping: Mapping[str, str] | None = None,
    context: LoadContext | None = None,
) -> FileLoad:
    """Read and validate what ``location`` names as ``table``: a file (:func:`load_file`), or the files of
    a folder or a glob pattern as one table (:func:`kvar.data.locations.local_files`, in that order).

    Each file of a set is read and typed on its own (its encoding, dialect and formats), and each reject
    names its file (as an absolute path) and row. The ``key=value`` folder names of a partitioned
    dataset add a text column per key (:func:`kvar.data.locations.folder_values`). The rules that
    compare rows hold across the files: a row repeating an earlier row of any file of the set is a later
    duplicate, and the accepted rows of all files must share one currency. The set fails only when none
    of its rows is accepted. One :class:`FileLoad` for the whole, whose ``file`` is ``location``.
    """
    if Path(location).is_file():
        return load_file(con, table, location, mapping, context)
    files = files_named(location)
    context = context or LoadContext()
    checks: list[Validated] = []
    encodings: list[str] = []
    file_set = FileSet(next(_names))
    with memory_budget(con):
        for path, folders in zip(files, folder_values(location, files), strict=True):
            checked, encoding = _checked(
                con, table, path.absolute(), mapping, replace(context, file_set=file_set, folders=folders)
            )
            checks.append(checked)
            encodings.append(encoding)
            file_set = replace(file_set, place=file_set.place + 1)
    name = next(_names)
    accepted, rejects = f"{name}_accepted", f"{name}_rejects"
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{accepted}" AS '
        + " UNION ALL BY NAME ".join(f'SELECT * FROM "{check.accepted_table}"' for check in checks)
    ).fetchall()
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{rejects}" AS '
        + " UNION ALL ".join(f'SELECT * FROM "{check.rejects_table}"' for check in checks)
    ).fetchall()
    combined = Validated(
        accepted_table=accepted,
        rejects_table=rejects,
        rows_read=sum(check.rows_read for check in checks),
        rows_accepted=sum(check.rows_accepted for check in checks),
        rows_rejected=sum(check.rows_rejected for check in checks),
        read_as=tuple(dict.fromkeys(note for check in checks for note in check.read_as)),
    )
    if context.fx_rates is None:  # with an FX table every amount is converted into one currency
        require_one_currency(con, [accepted], contract_for(table), str(location))
    _require_rows(con, combined, str(location))
    return _outcome(con, table, str(location), combined, ", ".join(dict.fromkeys(encodings)))


def _checked(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    mapping: Mapping[str, str] | None,
    context: LoadContext,
) -> tuple[Validated, str]:
    """The validated rows of one file and how its text was decoded (empty for Parquet); run within a
    load's :func:`~kvar.data.sql.memory_budget`."""
    contract = contract_for(table)
    raw = read_raw(con, path, next(_names), context.encoding, folders=context.folders)
    resolved = resolve(contract, raw.columns, mapping or {}, path.name)
    return validate(con, raw, contract, resolved, context), raw.encoding


def _require_rows(con: duckdb.DuckDBPyConnection, checked: Validated, location: str) -> None:
    """Stop a load that would keep no row: every row rejected (the commonest reasons said), or none read."""
    if checked.rows_accepted == 0 and checked.rows_read > 0:
        reasons = _reasons(con, checked)
        top = "; ".join(
            tr("{column}: {reason} ({rows} rows)").format(column=column, reason=shown_reason(why), rows=number(rows))
            for column, why, rows in reasons[:3]
        )
        raise ValidationError(
            tr("{path}: all {rows_read} rows were rejected ({top})").format(
                path=location, rows_read=checked.rows_read, top=top
            )
        )
    if checked.rows_read == 0:
        raise FileFormatError(tr("{path}: no data rows").format(path=location))


def _reasons(con: duckdb.DuckDBPyConnection, checked: Validated) -> list[tuple[str, str, int]]:
    return [
        (column or "(line)", reason, int(rows))
        for column, reason, rows in con.execute(
            f"SELECT column_name, regexp_replace(reason, {literal(FIRST_SEEN)}, 'row N'), count(*) "
            f'FROM "{checked.rejects_table}" GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2'
        ).fetchall()
    ]


def _outcome(con: duckdb.DuckDBPyConnection, table: str, file: str, checked: Validated, encoding: str) -> FileLoad:
    first = con.execute(
        f'SELECT file, row, column_name, value, reason FROM "{checked.rejects_table}" '
        "ORDER BY file, row, column_name, reason LIMIT 5"
    ).fetchall()
    return FileLoad(
        table=table,
        file=file,
        sha256="",
        rows_read=checked.rows_read,
        rows_loaded=checked.rows_accepted,
        rows_rejected=checked.rows_rejected,
        reasons=tuple(_reasons(con, checked)),
        first_rejects=tuple((path, int(row), column, value, reason) for path, row, column, value, reason in first),
        accepted_table=checked.accepted_table,
        rejects_table=checked.rejects_table,
        encoding=encoding,
        read_as=checked.read_as,
    )


def read_fx_table(path: Path | str) -> dict[str, float]:
    """An FX table: a small CSV with ``currency`` and ``rate`` (units of the base currency per unit), as
    Excel writes it too (``;`` and a decimal comma: ``EUR;11,45``)."""
    path = Path(path)
    if not path.exists():
        raise FileFormatError(tr("{path}: no such FX file").format(path=path))
    names, rows = read_small_csv(path)
    if not {"currency", "rate"} <= set(names):
        raise FileFormatError(tr("{path}: an FX table needs the columns currency,rate").format(path=path))
    rates: dict[str, float] = {}
    for line, row in enumerate(rows, start=2):
        try:
            rate = small_number(row["rate"])
        except ValueError as error:
            raise FileFormatError(
                tr("{path} row {line}: rate {rate!r} is not a number").format(path=path, line=line, rate=row["rate"])
            ) from error
        if rate <= 0:
            raise FileFormatError(
                tr("{path} row {line}: rate must be > 0, got {rate}").format(path=path, line=line, rate=rate)
            )
        rates[row["currency"].upper()] = rate
    return rates


def create_rejects_table(con: duckdb.DuckDBPyConnection, name: str = "rejects") -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({REJECTS_COLUMNS}, loaded_at TIMESTAMP)").fetchall()


def export_rejects(
    connection: duckdb.DuckDBPyConnection, tables: Sequence[str], path: Path, *, excel: bool = False
) -> None:
    """The rejected rows of every table of ``tables`` (the rejects of a command's loads, one table per
    file) as one CSV at ``path``, in file and row order; ``excel``: as Excel in a decimal-comma locale
    opens it (UTF-8 with BOM, ``;`` between fields)."""
    target = literal(str(path))
    rows = " UNION ALL ".join(f'SELECT * FROM "{table}"' for table in tables)
    connection.execute(
        f"COPY ({rows} ORDER BY file, row, column_name, reason) TO {target} (HEADER, DELIMITER '{';' if excel else ','}')"
    ).fetchall()
    if excel:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
