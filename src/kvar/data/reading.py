"""Read a user's file, as it is, into a DuckDB table of text columns with row numbers.

Nothing is converted or dropped here: every value stays the text the file had, so that validation can
quote it back. Formats: CSV and other delimited text (delimiter and header sniffed, ``.gz`` allowed),
whitespace-aligned text (such as the CDNOW files) and Parquet.

Each raw table has ``_row``: the file's line number for text (the header is line 1) and the 1-based row
index for Parquet.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kvar.errors import FileFormatError

_DELIMITERS = re.compile(r"[,;\t|]")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_YYYYMMDD = re.compile(r"^(19|20)\d{6}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")

#: Headerless whitespace layouts recognised by their shape (the CDNOW files of Fader & Hardie).
_CDNOW_SAMPLE = ("master_customer_id", "customer_id", "date", "number_of_cds", "dollar_value")
_CDNOW_MASTER = ("customer_id", "date", "number_of_cds", "dollar_value")


@dataclass(frozen=True)
class RawTable:
    """A file read into ``table`` (all text columns plus ``_row``)."""

    path: Path
    table: str
    columns: tuple[str, ...]
    rows: int
    malformed: tuple[tuple[int, str, str], ...]  # (line, raw text, message) of lines that could not be split


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> RawTable:
    """Read ``path`` into the temporary table ``table`` and describe it."""
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path}: the file is empty")
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return _read_parquet(con, path, table)
    first_lines = _first_lines(path, 5)
    if not first_lines:
        raise FileFormatError(f"{path}: no lines of text")
    if not _DELIMITERS.search(first_lines[0]) and len(first_lines[0].split()) > 1:
        return _read_whitespace(con, path, table, first_lines)
    return _read_delimited(con, path, table, first_lines)


def _first_lines(path: Path, count: int) -> list[str]:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            lines = []
            for line in handle:
                if line.strip():
                    lines.append(line.strip("\r\n"))
                if len(lines) == count:
                    break
            return lines
    except (OSError, EOFError) as error:
        raise FileFormatError(f"{path}: cannot be read as text ({error})") from error


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> RawTable:
    try:
        names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_quote(path)})").fetchall()]
        casts = ", ".join(f'CAST("{name}" AS VARCHAR) AS "{name}"' for name in names)
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT {casts}, '
            f"CAST(file_row_number + 1 AS BIGINT) AS _row FROM read_parquet({_quote(path)}, file_row_number = true)"
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(f"{path}: not a readable Parquet file ({error})") from error
    return _describe(con, path, table, tuple(names), ())


def _sniff(path: Path, lines: list[str]) -> tuple[str, bool]:
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


def _read_delimited(con: duckdb.DuckDBPyConnection, path: Path, table: str, first_lines: list[str]) -> RawTable:
    delimiter, has_header = _sniff(path, first_lines)
    quoted_delimiter = "\\t" if delimiter == "\t" else delimiter
    options = (
        f"delim = '{quoted_delimiter}', header = {has_header}, "
        "all_varchar = true, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{table}_bad_lines', rejects_scan = '{table}_bad_scans'"
    )
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_lines" AS SELECT * FROM read_csv({_quote(path)}, {options})'
        ).fetchall()
        header_lines = 1 if has_header else 0
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT *, CAST(rowid + 1 + {header_lines} AS BIGINT) AS _row '
            f'FROM "{table}_lines"'
        ).fetchall()
        bad = con.execute(
            f'SELECT line, any_value(csv_line), max(error_message) FROM "{table}_bad_lines" GROUP BY line ORDER BY line'
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(f"{path}: not a readable CSV file ({error})") from error
    names = tuple(name for name in _columns(con, table) if name != "_row")
    malformed = tuple((int(line), str(raw), str(message).split("\n")[0]) for line, raw, message in bad)
    # Rows skipped before a bad line shift rowid; recompute line numbers from the sniffed file when any.
    if malformed:
        _renumber_around_bad_lines(con, table, header_lines, [line for line, _, _ in malformed])
    return _describe(con, path, table, names, malformed)


def _renumber_around_bad_lines(
    con: duckdb.DuckDBPyConnection, table: str, header_lines: int, bad_lines: list[int]
) -> None:
    """Shift ``_row`` past the malformed lines DuckDB skipped, so line numbers match the file."""
    for bad in sorted(bad_lines):
        con.execute(f'UPDATE "{table}" SET _row = _row + 1 WHERE _row >= {bad}').fetchall()


def _read_whitespace(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, first_lines: list[str]
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
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_lines" AS SELECT line FROM read_csv({_quote(path)}, '
            "columns = {'line': 'VARCHAR'}, delim = '\x1f', quote = '', escape = '', header = false, "
            "auto_detect = false)"
        ).fetchall()
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}_split" AS SELECT rowid + 1 AS _row, line, '
            f"regexp_split_to_array(trim(line), '\\s+') AS fields FROM \"{table}_lines\""
        ).fetchall()
        skip = 1 if has_header else 0
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT {parts}, CAST(_row AS BIGINT) AS _row '
            f'FROM "{table}_split" WHERE _row > {skip} AND trim(line) <> \'\' AND len(fields) = {width}'
        ).fetchall()
        bad = con.execute(
            f'SELECT _row, line, len(fields) FROM "{table}_split" '
            f"WHERE _row > {skip} AND trim(line) <> '' AND len(fields) <> {width} ORDER BY _row"
        ).fetchall()
    except duckdb.Error as error:
        raise FileFormatError(f"{path}: not readable as whitespace-separated text ({error})") from error
    malformed = tuple(
        (int(line), str(raw), f"expected {width} fields, found {count}") for line, raw, count in bad
    )
    return _describe(con, path, table, names, malformed)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f'DESCRIBE "{table}"').fetchall()]


def _describe(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    names: tuple[str, ...],
    malformed: tuple[tuple[int, str, str], ...],
) -> RawTable:
    (rows,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0]
    return RawTable(path=path, table=table, columns=names, rows=int(rows), malformed=malformed)
