"""Read a user's file, as it is, into a DuckDB table (or a view over the file) with row numbers.

Nothing is converted or dropped here: every value of a text file stays the text the file had, and a
Parquet column keeps the file's own type, so that validation can quote each value back. Formats: CSV
and other delimited text (delimiter and header sniffed, ``.gz`` allowed), whitespace-aligned text (such
as the CDNOW files) and Parquet, which is read where it lies (a view: no copy).

Each raw table has ``_row``: the file's line number for text (the header is line 1) and the 1-based row
index for Parquet. The values a file's folder names give (:func:`kvar.data.locations.folder_values`)
are text columns after the file's own. A delimited UTF-8 file is first read where it lies (a view: no
copy of its text): its rows come in line order with ``_row`` not yet known, and the typing pass numbers
them by position once :func:`lines_in_order` has confirmed that every line was read as one row;
otherwise :func:`read_numbered` reads it again into a table with the line numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from kvar.data.file_facts import facts_soon, file_facts
from kvar.data.locations import check_folder_keys
from kvar.data.reasons import FIELD_COUNT, TOO_MANY_FIELDS, reason
from kvar.data.sql import literal, memory_budget
from kvar.data.text_files import decoded_lines, file_kind, inspect_text, line_texts, utf8_path
from kvar.errors import FileFormatError
from kvar.i18n import tr

DELIMITERS = re.compile(r"[,;\t|]")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_YYYYMMDD = re.compile(r"^(19|20)\d{6}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")

#: Headerless whitespace layouts recognised by their shape (the CDNOW files of Fader & Hardie).
_CDNOW_SAMPLE = ("master_customer_id", "customer_id", "date", "number_of_cds", "dollar_value")
_CDNOW_MASTER = ("customer_id", "date", "number_of_cds", "dollar_value")
_OVERFLOW = "_kvar_more_fields"
_FAST_LINE_BYTES = 8 << 20  # DuckDB reads at full speed with lines up to this length ...
_MAX_LINE_BYTES = 1 << 30  # ... and needs this (twice the time) for huge fields, which it may otherwise skip unreported
_HUGE_LINE_MEMORY = "32GB"


@dataclass(frozen=True)
class RawTable:
    """A file read into ``table`` (its columns plus ``_row``)."""

    path: Path
    table: str
    columns: tuple[str, ...]
    rows: int
    malformed: tuple[tuple[int, str, str], ...]  # (line, raw text, message) of lines that could not be split
    encoding: str = ""  # how the text was decoded, e.g. "UTF-8 with BOM" (empty for Parquet)
    types: Mapping[str, str] = field(default_factory=dict)  # column -> DuckDB type (VARCHAR for text files)
    encoding_asked: str | None = None  # the --encoding the file was read with (to read it again)
    first_line: int | None = None  # read in place: the line of the first row; rows and ``_row`` are not known
    folders: Mapping[str, str | None] = field(default_factory=dict)  # key -> value of its folder names


def read_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    encoding: str | None = None,
    *,
    in_place: bool = True,
    folders: Mapping[str, str | None] | None = None,
) -> RawTable:
    """Read ``path`` into the temporary table or view ``table`` and describe it (format judged by content);
    ``in_place``: a delimited UTF-8 file may be read where it lies (see the module's docstring);
    ``folders``: the values its folder names give, a text column each."""
    folders = dict(folders or {})
    if path.is_dir():
        raise FileFormatError(
            tr("{path}: is a folder, not a file; load_location reads a folder's files as one table").format(path=path)
        )
    if not path.exists():
        raise FileFormatError(tr("{path}: no such file").format(path=path))
    if path.stat().st_size == 0:
        raise FileFormatError(tr("{path}: the file is empty").format(path=path))
    kind = file_kind(path)
    if kind == "zip":
        raise FileFormatError(
            tr(
                "{path}: a ZIP archive or an Excel workbook, not a table kvar can read. In Excel: File > Save As > CSV UTF-8; or unzip it first"
            ).format(path=path)
        )
    raw = (
        _read_parquet(con, path, table, folders)
        if kind == "parquet"
        else _read_text(con, path, table, encoding, in_place, folders)
    )
    check_folder_keys(raw.columns[: len(raw.columns) - len(folders)], folders, path)
    return raw


def _read_text(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    encoding: str | None,
    in_place: bool,
    folders: Mapping[str, str | None],
) -> RawTable:
    """A text file: delimited or whitespace-aligned, decoded as :func:`inspect_text` finds it."""
    if path.suffix.lower() in (".parquet", ".pq"):
        raise FileFormatError(
            tr("{path}: named like a Parquet file but it is not one (no PAR1 header)").format(path=path)
        )
    source = inspect_text(path, encoding)
    first_lines = decoded_lines(source, 5)
    if not first_lines:
        raise FileFormatError(tr("{path}: no lines of text").format(path=path))
    with utf8_path(source) as readable:
        if not DELIMITERS.search(first_lines[0]) and len(first_lines[0].split()) > 1:
            raw = _read_whitespace(con, readable, table, first_lines, folders)
        elif in_place and not source.needs_copy:
            facts_soon(path, digest=False)  # the line count, wanted after the typing pass, is read meanwhile
            raw = _delimited_in_place(con, readable, table, first_lines, folders)
        else:
            raw = _read_delimited(con, readable, table, first_lines, folders)
    return replace(raw, path=path, encoding=source.describe(), encoding_asked=encoding)


def read_numbered(con: duckdb.DuckDBPyConnection, raw: RawTable) -> RawTable:
    """``raw``, read in place, read again into a table whose ``_row`` is each row's line number (the same
    name: it replaces the view)."""
    con.execute(f'DROP VIEW IF EXISTS "{raw.table}"').fetchall()
    return read_raw(con, raw.path, raw.table, raw.encoding_asked, in_place=False, folders=raw.folders)


def lines_in_order(con: duckdb.DuckDBPyConnection, raw: RawTable, rows: int, overflowing: bool) -> bool:
    """Whether the last full read of ``raw`` (read in place) gave one row per line: ``rows`` rows, none
    with more fields than the header (``overflowing``), no line the reader rejected, and as many lines as
    the file has. Then a row's line number is its position plus ``raw.first_line``."""
    if raw.first_line is None or overflowing:
        return False
    (broken,) = con.execute(f'SELECT count(*) FROM "{raw.table}_bad_lines"').fetchall()[0]
    return not broken and rows + raw.first_line - 1 == file_facts(raw.path, digest=False).lines


#: The flag of a row of a file read in place that has more fields than its header.
OVERFLOWING = "_kvar_overflowing"


def engine_message(error: Exception) -> str:
    """The first line of an engine's error message, at most 160 characters: enough to say what, never a page."""
    first = str(error).strip().split("\n", 1)[0]
    return first if len(first) <= 160 else first[:157] + "…"


def _folder_columns(folders: Mapping[str, str | None]) -> str:
    """SQL of the text columns the file's folder names give (``, 'SE'::VARCHAR AS "country"``)."""
    return "".join(
        f", {'NULL' if value is None else literal(value)}::VARCHAR AS {_identifier(key)}"
        for key, value in folders.items()
    )


def _identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, folders: Mapping[str, str | None]
) -> RawTable:
    try:
        file = literal(path)  # kvar reads the folder names itself: DuckDB's guess from the path is off
        names = [
            row[0]
            for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({file}, hive_partitioning = false)").fetchall()
        ]
        columns = ", ".join(f'"{name}"' for name in names)
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT {columns}{_folder_columns(folders)}, '
            f"CAST(file_row_number + 1 AS BIGINT) AS _row "
            f"FROM read_parquet({file}, hive_partitioning = false, file_row_number = true)"
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(
            tr("{path}: not a readable Parquet file ({reason})").format(path=path, reason=engine_message(error))
        ) from error
    return _describe(con, path, table, (*names, *folders), (), folders)


def sniff(lines: list[str]) -> tuple[str, bool]:
    """Delimiter (the commonest of , ; tab | in the first line) and whether that line is a header.

    A first line is a header when none of its fields looks like a number or a date; sniffing here, not
    in the engine, keeps a file with a malformed line readable.
    """
    first = lines[0]
    counts = {delimiter: first.count(delimiter) for delimiter in ",;\t|"}
    delimiter = max(counts, key=lambda key: counts[key])
    if counts[delimiter] == 0:
        delimiter = ","
    fields = next(csv.reader([first], delimiter=delimiter))
    has_header = not any(_NUMBER.match(field.strip()) or _DATE.match(field.strip()) for field in fields)
    return delimiter, has_header


def header_names(path: Path, fields: list[str]) -> tuple[str, ...]:
    """Column names from a header line: blanks become ``columnN``; a repeated name is an error."""
    names = tuple(field.strip() or f"column{index}" for index, field in enumerate(fields, start=1))
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if name.lower() in seen:
            raise FileFormatError(
                tr(
                    "{path}: columns {seen} and {index} of the header are both named {name!r}. Rename one of them in the file, so that kvar knows which one you mean."
                ).format(path=path, seen=seen[name.lower()], index=index, name=name)
            )
        seen[name.lower()] = index
    return names


@dataclass(frozen=True)
class _Dialect:
    """How a delimited file is split: its columns, header and ``read_csv`` options."""

    names: tuple[str, ...]
    delimiter: str
    header_lines: int
    options: str


def _dialect(path: Path, table: str, first_lines: list[str]) -> _Dialect:
    """The dialect decided here (no engine sniffing): every value text, one column more than the header so
    that a line with too many fields is caught, short lines padded and then judged by the rules."""
    delimiter, has_header = sniff(first_lines)
    fields = next(csv.reader([first_lines[0]], delimiter=delimiter))
    names = header_names(path, fields) if has_header else tuple(f"column{index}" for index in range(1, len(fields) + 1))
    quoted_delimiter = "\\t" if delimiter == "\t" else delimiter
    columns = ", ".join(f"{literal(name)}: 'VARCHAR'" for name in (*names, _OVERFLOW))
    options = (
        f"auto_detect = false, columns = {{{columns}}}, delim = '{quoted_delimiter}', quote = '\"', escape = '\"', "
        f"header = {has_header}, strict_mode = false, null_padding = true, hive_partitioning = false, "
        f"ignore_errors = true, store_rejects = true, rejects_table = '{table}_bad_lines', rejects_scan = '{table}_bad_scans'"
    )
    return _Dialect(names, delimiter, 1 if has_header else 0, options)


def _delimited_in_place(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, first_lines: list[str], folders: Mapping[str, str | None]
) -> RawTable:
    """A view over the file itself, rows in line order, ``_row`` NULL and :data:`OVERFLOWING` per row."""
    dialect = _dialect(path, table, first_lines)
    constants = _folder_columns(folders)
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT * EXCLUDE ("{_OVERFLOW}"){constants}, NULL::BIGINT AS _row, '
            f'"{_OVERFLOW}" IS NOT NULL AS {OVERFLOWING} '
            f"FROM read_csv({literal(path)}, {dialect.options}, max_line_size = {_FAST_LINE_BYTES})"
        ).fetchall()
        types = dict(con.execute(f'SELECT column_name, column_type FROM (DESCRIBE "{table}")').fetchall())
    except duckdb.Error as error:
        raise FileFormatError(
            tr("{path}: not a readable CSV file ({reason})").format(path=path, reason=engine_message(error))
        ) from error
    names = (*dialect.names, *folders)
    return RawTable(path, table, names, 0, (), types=types, first_line=dialect.header_lines + 1, folders=folders)


def _read_delimited(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, first_lines: list[str], folders: Mapping[str, str | None]
) -> RawTable:
    """Read into a table with each row's line number (:func:`_dialect`)."""
    dialect = _dialect(path, table, first_lines)
    names, header_lines, options = dialect.names, dialect.header_lines, dialect.options
    constants = _folder_columns(folders)
    try:
        _create_lines(con, path, table, options + f", max_line_size = {_FAST_LINE_BYTES}")
        if not _every_line_seen(con, path, table, header_lines):
            with memory_budget(con, _HUGE_LINE_MEMORY):  # DuckDB reserves (not uses) buffers for such lines
                _create_lines(con, path, table, options + f", max_line_size = {_MAX_LINE_BYTES}")
        fields = ", ".join(_identifier(name) for name in (*names, _OVERFLOW))
        long_lines = con.execute(
            f'SELECT rowid + 1 + {header_lines}, [{fields}] FROM "{table}_lines" WHERE "{_OVERFLOW}" IS NOT NULL ORDER BY 1'
        ).fetchall()
        bad = con.execute(
            f'SELECT line, any_value(csv_line), max(error_message) FROM "{table}_bad_lines" GROUP BY line ORDER BY line'
        ).fetchall()
        clean = not long_lines and not bad
        con.execute(
            f'CREATE OR REPLACE TEMP {"VIEW" if clean else "TABLE"} "{table}" AS SELECT * EXCLUDE ("{_OVERFLOW}"){constants}, '
            f'CAST(rowid + 1 + {header_lines} AS BIGINT) AS _row FROM "{table}_lines" WHERE "{_OVERFLOW}" IS NULL'
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(
            tr("{path}: not a readable CSV file ({reason})").format(path=path, reason=engine_message(error))
        ) from error
    too_many = reason(TOO_MANY_FIELDS, count=len(names))
    bad_lines = [int(line) for line, _, _ in bad]
    long_rows = {_past_bad_lines(int(line), bad_lines): values for line, values in long_lines}
    malformed = tuple(
        sorted(
            [(int(line), str(raw), str(message).split("\n")[0]) for line, raw, message in bad]
            + [(line, text[:1000], too_many) for line, text in _long_line_texts(path, dialect, long_rows).items()]
        )
    )
    # Rows skipped before a bad line shift rowid; recompute line numbers from the sniffed file when any.
    if bad:
        _renumber_around_bad_lines(con, table, header_lines, [int(line) for line, _, _ in bad])
    return _describe(con, path, table, (*names, *folders), malformed, folders)


def _create_lines(con: duckdb.DuckDBPyConnection, path: Path, table: str, options: str) -> None:
    for table_name in (f"{table}_bad_lines", f"{table}_bad_scans"):
        con.execute(f'DROP TABLE IF EXISTS "{table_name}"').fetchall()
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_lines" AS SELECT * FROM read_csv({literal(path)}, {options})'
        ).fetchall()
    except duckdb.Error as error:
        if "parallel=false" not in str(error) or "parallel = false" in options:
            raise
        _create_lines(con, path, table, options + ", parallel = false")  # quoted line breaks and padding


def _every_line_seen(con: duckdb.DuckDBPyConnection, path: Path, table: str, header_lines: int) -> bool:
    """Whether the lines read plus the lines reported broken account for every line of ``path``, none of
    them broken only by its length.

    DuckDB skips a line longer than its buffer without a word; counting the file's line breaks (one C
    pass) catches that. A file this does not settle (quoted line breaks, blank lines) is read again with
    room for any line, which is slower but loses nothing.
    """
    lines = file_facts(path, digest=False).lines
    (seen, too_long) = con.execute(
        f'SELECT (SELECT count(*) FROM "{table}_lines") + (SELECT count(DISTINCT line) FROM "{table}_bad_lines"), '
        f"EXISTS (SELECT 1 FROM \"{table}_bad_lines\" WHERE error_type = 'LINE SIZE OVER MAXIMUM')"
    ).fetchall()[0]
    return int(seen) + header_lines == lines and not too_long


def _long_line_texts(path: Path, dialect: _Dialect, rows: Mapping[int, list[str | None]]) -> dict[int, str]:
    """The text of each line with too many fields, by its line number: the line as the file has it, every
    field of it (the reader keeps one field past the header's); a line that a quoted line break before
    it has moved (its text splits into other values than the row read) shown as the values read."""
    texts = line_texts(path, rows)
    shown = {}
    for line, values in rows.items():
        read = ["" if value is None else value for value in values]
        text = texts.get(line, "")
        split = next(csv.reader([text], delimiter=dialect.delimiter), [])
        shown[line] = text if split[: len(read)] == read else _joined(read, dialect.delimiter)
    return shown


def _joined(values: list[str], delimiter: str) -> str:
    """``values`` as one line of the file's dialect (quoted where a value needs it)."""
    line = io.StringIO()
    csv.writer(line, delimiter=delimiter, lineterminator="").writerow(values)
    return line.getvalue()


def _past_bad_lines(line: int, bad_lines: list[int]) -> int:
    """The line number of a row counted as ``line`` among the rows read, the ``bad_lines`` the reader
    skipped put back before it (as :func:`_renumber_around_bad_lines` does for every row)."""
    for bad in sorted(bad_lines):
        if line >= bad:
            line += 1
    return line


def _renumber_around_bad_lines(
    con: duckdb.DuckDBPyConnection, table: str, header_lines: int, bad_lines: list[int]
) -> None:
    """Shift ``_row`` past the malformed lines DuckDB skipped, so line numbers match the file."""
    for bad in sorted(bad_lines):
        con.execute(f'UPDATE "{table}" SET _row = _row + 1 WHERE _row >= {bad}').fetchall()


def _read_whitespace(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, first_lines: list[str], folders: Mapping[str, str | None]
) -> RawTable:
    tokens = first_lines[0].split()
    has_header = not any(_NUMBER.match(token) for token in tokens)
    width = len(tokens)
    if has_header:
        names = tuple(tokens)
    elif width == 5 and _YYYYMMDD.match(tokens[2]):
        names = _CDNOW_SAMPLE
    elif width == 4 and _YYYYMMDD.match(tokens[1]):
        names = _CDNOW_MASTER
    else:
        names = tuple(f"column{index}" for index in range(1, width + 1))
    parts = ", ".join(f'fields[{index + 1}] AS "{name}"' for index, name in enumerate(names))
    parts += _folder_columns(folders)
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_lines" AS SELECT line FROM read_csv({literal(path)}, '
            "columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '', header = false, "
            "auto_detect = false, hive_partitioning = false)"
        ).fetchall()
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_split" AS SELECT rowid + 1 AS _row, line, '
            f"regexp_split_to_array(trim(line), '\\s+') AS fields FROM \"{table}_lines\""
        ).fetchall()
        skip = 1 if has_header else 0
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT {parts}, CAST(_row AS BIGINT) AS _row '
            f"FROM \"{table}_split\" WHERE _row > {skip} AND trim(line) <> '' AND len(fields) = {width}"
        ).fetchall()
        bad = con.execute(
            f'SELECT _row, line, len(fields) FROM "{table}_split" '
            f"WHERE _row > {skip} AND trim(line) <> '' AND len(fields) <> {width} ORDER BY _row"
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(
            tr("{path}: not readable as whitespace-separated text ({reason})").format(
                path=path, reason=engine_message(error)
            )
        ) from error
    malformed = tuple((int(line), str(raw), reason(FIELD_COUNT, width=width, count=count)) for line, raw, count in bad)
    return _describe(con, path, table, (*names, *folders), malformed, folders)


def _describe(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    names: tuple[str, ...],
    malformed: tuple[tuple[int, str, str], ...],
    folders: Mapping[str, str | None],
) -> RawTable:
    (rows,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0]
    types = dict(con.execute(f'SELECT column_name, column_type FROM (DESCRIBE "{table}")').fetchall())
    return RawTable(path, table, names, int(rows), malformed, types=types, folders=folders)
