"""Turn a raw text table into a typed canonical table, keeping every rejected row with its reason.

Each rule names the column, the value found and what was expected. A row breaking any rule is rejected
as a whole (it is listed once per broken rule) and kept in the rejects table with its raw values as JSON;
all other rows are loaded unchanged except for the documented normalisations (times to UTC, currency
codes upper-case, refunds negative, amounts converted with an FX table when one is given).

Rules (docs/data-model.md, "Validation"):

Numbers and times are read in the format chosen for their whole column (:mod:`kvar.data.formats`):
decimal comma and thousands grouping, day-first dates.

* required value missing; an identifier with a control character, U+FFFD or a double quote; a text
  value with U+FFFD (a stray carriage return or an undecodable byte); time that does not parse; time in the future (after now + 1 day), except a
  scheduled end (``subscriptions.ended_at``);
* number that does not parse or is not finite; number below a column's minimum (e.g. ``mrr >= 0``);
* text outside a column's choices (``kind``, ``status``); currency not an ISO 4217 code;
* duplicate key in the file (the first occurrence is kept) or already in the workspace; for transactions
  the key is the order line (``transaction_id`` with ``line_id``, or all the line's values);
* ``ended_at`` before ``started_at``; NPS score outside 0-10, CSAT outside 1-5;
* customer unknown, when a customers table has been loaded;
* currency without a rate, when an FX table is given.

Mixed currencies without an FX table stop the load (nothing is loaded): summing them would be wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import duckdb

from kvar.data import reasons
from kvar.data.contracts import SCORE_RANGES, Column, TableContract
from kvar.data.currencies import ISO_4217
from kvar.data.formats import (
    NUMBER_FORMATS,
    ColumnFormats,
    date_order_formats,
    default_time_sql,
    detect_formats,
    may_be_grouped,
    number_formats_allowed,
    plain_utc_time_sql,
    strptime_sql,
    unusual_columns,
    utc_sql,
)
from kvar.data.mapping import ColumnSource, ResolvedMapping
from kvar.data.reading import OVERFLOWING, RawTable, lines_in_order, read_numbered
from kvar.data.reasons import reason
from kvar.data.sql import literal, table_columns
from kvar.errors import ValidationError
from kvar.i18n import tr

REJECTS_COLUMNS = (
    "table_name VARCHAR, file VARCHAR, row BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR, raw VARCHAR"
)


@dataclass(frozen=True)
class FileSet:
    """A folder or glob being read, for the rules that compare rows across its files: the name of its
    tables (one per row identity, ``<name>_<n>``, keeping each identity's first row as (file's place,
    row), and ``<name>_paths``), filled in as each file is read, and the place of the file read next."""

    name: str
    place: int = 0


@dataclass(frozen=True)
class LoadContext:
    """What the rules may look at besides the file itself."""

    timezone: str = "UTC"
    date_format: str | None = None
    decimal: str | None = None  # "." or ","; None: detected per column
    thousands: str | None = None  # "space", ".", ",", "none"; None: detected per column
    encoding: str | None = None  # None: detected (text_files.inspect_text)
    now: dt.datetime | None = None
    fx_rates: Mapping[str, float] | None = None
    base_currency: str | None = None
    existing_keys_table: str | None = None
    existing_columns: tuple[str, ...] = ()
    customers_table: str | None = None
    #: a file of a folder or glob read as one table: the :class:`FileSet` of the files read before it,
    #: a row repeating one of theirs being a later duplicate, as it is of an earlier row of its file
    file_set: FileSet | None = None
    #: the values the file's folder names give (:func:`kvar.data.locations.folder_values`), a column each
    folders: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Validated:
    """Names of the temporary tables holding the accepted rows and the rejects, with counts."""

    accepted_table: str
    rejects_table: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    read_as: tuple[str, ...] = ()  # how columns were read when not the default, e.g. "amount: decimal comma"


def _text(name: str, table: str = "") -> str:
    """The trimmed text of a column, NULL when empty (optionally of table alias ``table``).

    Trimming removes Unicode space separators from both ends. ASCII text that neither starts below ``!``
    nor ends with a space has none to remove and is not empty, so it is its own trimmed text: a test that
    costs a third of the trim it saves on most values."""
    value = f'CAST({f"{table}." if table else ""}"{name}" AS VARCHAR)'
    nothing_to_trim = f"strlen({value}) = length({value}) AND {value} >= '!' AND NOT suffix({value}, ' ')"
    return f"CASE WHEN {nothing_to_trim} THEN {value} ELSE NULLIF(trim({value}), '') END"


#: Printable ASCII without a double quote, first and last not a space: an identifier written so has
#: nothing to trim, no control character and no quote, and one test settles what three would.
_PLAIN_ID = "[!#-~]([ !#-~]*[!#-~])?"


def _plain_id_sql(text: str) -> str:
    """SQL: whether ``text`` is a plain identifier (:data:`_PLAIN_ID`). Most identifiers are letters,
    digits and ``-._~``, the characters ``url_encode`` leaves as they are; for them the test is a third
    of the regular expression's cost, which only the others pay."""
    return f"CASE WHEN {text} <> '' AND url_encode({text}) = {text} THEN true ELSE regexp_full_match({text}, '{_PLAIN_ID}') END"


def _raw(name: str) -> str:
    """The column of the checks holding canonical column ``name`` as the file gave it (trimmed text, or the
    file's own number or time type), before it is read."""
    return f'"_raw.{name}"'


def _plain(name: str) -> str:
    """The flag of the checks row saying identifier ``name``'s text is plain (:data:`_PLAIN_ID`)."""
    return f'"_plain.{name}"'


def _unusual(name: str) -> str:
    """The flag of the typed rows saying ``name``'s value is one its default format does not settle."""
    return f'"_unusual.{name}"'


def _original(name: str) -> str:
    """The column of the rejected rows holding ``name``'s value exactly as the file had it, as text."""
    return f'"_value.{name}"'


_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


def _native(kind: str, raw_type: str) -> bool:
    """Whether a file column of ``raw_type`` already holds values of ``kind`` (a Parquet DOUBLE amount, a
    TIMESTAMP time), so that it is read as it is instead of through text."""
    raw_type = raw_type.upper()
    if kind in ("money", "number"):
        return raw_type in _INTEGERS or raw_type.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL"))
    return kind == "time" and (raw_type == "DATE" or raw_type.startswith("TIMESTAMP"))


def _typed(column: Column, formats: ColumnFormats, context: LoadContext, native_type: str | None) -> str:
    """SQL: the canonical value of ``column`` from its raw column ``_raw(name)`` (``native_type``: the
    file's type when it is read as it is)."""
    value = f"t.{_raw(column.name)}"
    if column.kind == "time":
        if native_type is not None:
            if context.timezone == "UTC" and "TIME ZONE" not in native_type.upper():
                return f"CAST({value} AS TIMESTAMP)"
            return utc_sql(f"CAST({value} AS TIMESTAMPTZ)")  # naive times are the load's local time
        parsed = default_time_sql(value)
        if column.name in formats.dates:  # the user's --date-format first; a detected order after ISO
            other = f"{strptime_sql(value, formats.dates[column.name])}::TIMESTAMPTZ"
            parsed = f"coalesce({other}, {parsed})" if context.date_format else f"coalesce({parsed}, {other})"
        if context.timezone == "UTC" and not context.date_format:  # the ISO reading comes first: a shortcut to it
            return f"coalesce({plain_utc_time_sql(value)}, {utc_sql(parsed)})"
        return utc_sql(parsed)
    if column.kind in ("money", "number"):
        return f"CAST({value} AS DOUBLE)" if native_type is not None else formats.number(column.name).value(value)
    if column.kind == "currency":
        return f"upper({value})"
    if column.choices:
        cases = " ".join(f"WHEN {literal(key)} THEN {literal(canonical)}" for key, canonical in column.choices.items())
        return f"CASE lower({value}) {cases} END"
    return value


@dataclass(frozen=True)
class _Reading:
    """How the raw table is read: the file's type of each source column, the canonical columns that are
    numbers or times already (name -> type: the file's own, or DOUBLE for a product of two columns), and
    the format of every number and time read from text."""

    raw_types: Mapping[str, str]
    native: Mapping[str, str]
    formats: ColumnFormats
    forced: bool = False  # formats given by --decimal, --thousands or --date-format: nothing is screened
    examined: frozenset[str] = frozenset()  # columns whose format was chosen from the whole column

    def factor(self, name: str) -> str:
        """SQL: source column ``name`` of the raw row ``r``, a factor of a product, as a DOUBLE."""
        if _native("number", self.raw_types[name]):
            return f'CAST(r."{name}" AS DOUBLE)'
        return self.formats.number(name).value(_text(name, "r"))

    def mapped(self, source: ColumnSource, name: str) -> str:
        """SQL: canonical column ``name`` as the raw row ``r`` gives it: trimmed text, the file's own
        number or time, or the product of two numbers."""
        if len(source.columns) > 1:
            return source.sql(self.factor)
        return f'r."{source.columns[0]}"' if name in self.native else _text(source.columns[0], "r")

    def plain_id(self, source: ColumnSource, name: str) -> tuple[str, str]:
        """SQL over the raw row ``r`` for identifier ``name``: whether its text is plain (:data:`_PLAIN_ID`),
        and its trimmed text (NULL when empty), which a plain text is already (a product: never plain)."""
        if len(source.columns) > 1:
            return "false", self.mapped(source, name)
        text = f'CAST(r."{source.columns[0]}" AS VARCHAR)'
        plain = _plain_id_sql(text)
        return plain, f"CASE WHEN {plain} THEN {text} ELSE NULLIF(trim({text}), '') END"

    def original(self, source: ColumnSource) -> str:
        """SQL: the value exactly as the file had it, as text (a product: the product)."""
        value = source.sql(self.factor) if len(source.columns) > 1 else f'r."{source.columns[0]}"'
        return f"CAST({value} AS VARCHAR)"


def _reading(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    present: list[Column],
    mapping: ResolvedMapping,
    context: LoadContext,
    unusual: frozenset[str] | None = None,
) -> _Reading:
    """The columns read as they are, and the format of each number and time column read from text (a
    product's factors by their own names), chosen from the whole raw table.

    Unless ``--decimal``, ``--thousands`` or ``--date-format`` is given, the first rows decide (except in
    a small text file, :func:`_screened_alone`): a single column they show unusual is detected here from
    the whole column; the others are read in the default format and screened in the typing pass itself
    (:func:`_screens`). ``unusual`` then names the columns the sample or the screen found the defaults do
    not read whole (None: the first reading).
    """
    forced = context.decimal is not None or context.thousands is not None or context.date_format is not None
    native: dict[str, str] = {}
    numbers: dict[str, str] = {}
    times: dict[str, str] = {}
    for column in present:
        sources = mapping.sources[column.name].columns
        if len(sources) > 1:  # a product of two numbers: each factor read in its own format
            native[column.name] = "DOUBLE"
            numbers.update({name: _text(name) for name in sources if not _native("number", raw.types[name])})
        elif _native(column.kind, raw.types[sources[0]]):
            native[column.name] = raw.types[sources[0]]
        elif column.kind in ("money", "number"):
            numbers[column.name] = _text(sources[0])
        elif column.kind == "time":
            times[column.name] = _text(sources[0])
    screened = False
    if not forced:
        if unusual is None and _screened_alone(raw):
            unusual = frozenset()
        elif unusual is None:  # a sample decides which columns are worth the typing pass's screen
            unusual_numbers, unusual_times = unusual_columns(con, raw.table, numbers, times, sample=SAMPLE_ROWS)
            unusual = frozenset(unusual_numbers | unusual_times)
        single = {column.name for column in present if len(mapping.sources[column.name].columns) == 1}
        numbers = {name: text for name, text in numbers.items() if name in unusual or name not in single}
        times = {name: text for name, text in times.items() if name in unusual}
        screened = bool(unusual) and not (set(numbers) - unusual)
    allowed = number_formats_allowed(context.decimal, context.thousands)
    formats = detect_formats(
        con, raw.table, numbers, times, allowed, context.date_format, str(raw.path), screened=screened
    )
    return _Reading(raw.types, native, formats, forced, frozenset(numbers) | frozenset(times))


#: The first rows, which decide which columns' formats are examined (and, on Spark, choose them).
SAMPLE_ROWS = 10_000
#: A text file read in place this small (bytes) is not sampled (:func:`_screened_alone`).
SMALL_FILE_BYTES = 1 << 20


def _screened_alone(raw: RawTable) -> bool:
    """Whether ``raw`` is a text file read in place of at most :data:`SMALL_FILE_BYTES`, whose columns the
    typing pass screens without a sample first: the rare such file with an unusual column is typed twice,
    which costs less than sampling every small file of a folder. A table of rows kvar read itself (a
    Spark sample, a decoded or Parquet file) is sampled."""
    return raw.first_line is not None and raw.path.stat().st_size <= SMALL_FILE_BYTES


def _screens(present: list[Column], mapping: ResolvedMapping, reading: _Reading) -> dict[str, str]:
    """Per single text column of numbers or times read in the default format: SQL over the checks row
    ``t`` that is true when the value is one the default does not settle (not read, or a number like
    ``1.234`` that may be thousands), which sends the column to format detection."""
    screens: dict[str, str] = {}
    if reading.forced:
        return screens
    for column in present:
        read_otherwise = column.name in reading.native or column.name in reading.examined
        if read_otherwise or len(mapping.sources[column.name].columns) > 1:
            continue
        value = f"t.{_raw(column.name)}"
        unread = f'{value} IS NOT NULL AND t."{column.name}" IS NULL'  # read in the default format
        if column.kind in ("money", "number"):
            screens[column.name] = f"({unread}) OR {may_be_grouped(value)}"
        elif column.kind == "time":
            screens[column.name] = unread
    return screens


def _checks_sql(
    raw: RawTable,
    present: list[Column],
    mapping: ResolvedMapping,
    reading: _Reading,
    context: LoadContext,
    extra: str = "",
    where: str = "",
) -> str:
    """SQL of one row per raw row: ``_row``, every canonical column raw (``_raw(name)``) and typed (``name``),
    and the extra columns; ``extra`` adds select items over the raw row ``r``, ``where`` restricts the rows."""
    mapped = []
    for column in present:
        source = mapping.sources[column.name]
        if column.kind == "id":  # the plain test is written twice and computed once (the engine's CSE)
            plain, text = reading.plain_id(source, column.name)
            mapped += [f"{text} AS {_raw(column.name)}", f"{plain} AS {_plain(column.name)}"]
        else:
            mapped.append(f"{reading.mapped(source, column.name)} AS {_raw(column.name)}")
    mapped += [f'r."{name}"' for name in mapping.extras]
    inner = f'SELECT r._row, {", ".join(mapped)}{extra} FROM "{raw.table}" r {where}'
    typed = [
        f'{_typed(column, reading.formats, context, reading.native.get(column.name))} AS "{column.name}"'
        for column in present
    ]
    return f"SELECT *, {', '.join(typed)} FROM ({inner}) t"


@dataclass(frozen=True)
class _Check:
    """One file under validation: where it is read, against which contract, and the columns it maps."""

    con: duckdb.DuckDBPyConnection
    raw: RawTable
    contract: TableContract
    present: list[Column]
    mapping: ResolvedMapping
    context: LoadContext
    now: dt.datetime

    @property
    def typed(self) -> str:
        return f"{self.raw.table}_typed"


def prepare(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    contract: TableContract,
    mapping: ResolvedMapping,
    context: LoadContext,
) -> tuple[_Check, _Reading]:
    """The file under check and how its columns are read (formats chosen from ``raw``'s rows, see
    :func:`_reading`); sets the connection's time zone to the load's, in which naive times are read."""
    con.execute(f"SET TimeZone = {literal(context.timezone)}").fetchall()
    now = context.now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    present = [column for column in contract.columns if column.name in mapping.sources]
    return _Check(con, raw, contract, present, mapping, context, now), _reading(con, raw, present, mapping, context)


def sample_screens(check: _Check, reading: _Reading) -> dict[str, str]:
    """Screens for a pass whose formats were chosen from a sample of the rows (Spark): SQL over the checks
    row ``t``, per number or time column read from text, true for a value on which choosing the format
    from the whole column could decide otherwise than the sample did: a number the column's format does
    not read but another candidate does, one like ``1.234`` in a column read plainly, or a real numeric
    date (``01/02/2026``) the column's reading does not read. Values no format reads (``abc``,
    ``31/02/2026``) are rejected whatever the choice, so they pass."""
    screens: dict[str, str] = {}
    if reading.forced:
        return screens
    for column in check.present:
        if column.name in reading.native or len(check.mapping.sources[column.name].columns) > 1:
            continue
        value, typed = f"t.{_raw(column.name)}", f't."{column.name}"'
        unread = f"{value} IS NOT NULL AND {typed} IS NULL"
        if column.kind in ("money", "number"):
            other = " OR ".join(candidate.reads(value) for candidate in NUMBER_FORMATS)
            grouped = f" OR {may_be_grouped(value)}" if column.name not in reading.examined else ""
            screens[column.name] = f"({unread} AND ({other})){grouped}"
        elif column.kind == "time":
            orders = [
                form
                for order in ("day-first", "month-first")
                for mark in "./-"
                for form in date_order_formats(order, mark)
            ]
            screens[column.name] = f"{unread} AND {strptime_sql(value, orders)} IS NOT NULL"
    return screens


def validate(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    contract: TableContract,
    mapping: ResolvedMapping,
    context: LoadContext,
) -> Validated:
    """Check ``raw`` against ``contract``: the ``<raw>_accepted`` view of the rows that pass, and the
    ``<raw>_rejects`` table of every broken rule of the others.

    One scan of the raw rows types every column and evaluates every row rule into one flag; the rules
    that look at other rows (duplicates, rows already loaded, unknown customers) are set operations over
    the typed rows. Only the flagged rows are read again, to say which rules they broke.

    A text file read in place (:func:`kvar.data.reading.read_raw`) is typed straight from the file, its rows
    numbered by their position once every line is known to be one row; otherwise, and to quote the raw
    values of rejected rows, it is read again with its line numbers.
    """
    in_place = raw.first_line is not None
    try:
        check, reading = prepare(con, raw, contract, mapping, context)
        reading = _type_all(check, reading)
    except duckdb.Error:  # what the file's reader could not settle in place, it settles when read again
        if not in_place:
            raise
        return validate(con, read_numbered(con, raw), contract, mapping, context)
    if in_place and not _number_in_place(check):
        return validate(con, read_numbered(con, raw), contract, mapping, context)
    present, typed = check.present, check.typed
    rules = _row_rules(contract, present, reading, context, check.now)
    flagged = _flag_set_rules(con, typed, str(raw.path), contract, present, context)
    rejected = "_bad" if flagged is None else f'(_bad OR _row IN (SELECT _row FROM "{flagged}"))'
    rejects = f"{raw.table}_rejects"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{rejects}" ({REJECTS_COLUMNS})').fetchall()
    (rows, bad_rows) = con.execute(f'SELECT count(*), count(*) FILTER (WHERE {rejected}) FROM "{typed}"').fetchall()[0]
    if bad_rows:
        if in_place:  # the raw values of the rejected rows, by line number
            check = replace(check, raw=read_numbered(con, raw))
        _write_rejects(check, reading, flagged, rules, rejects, rejected)
    file = literal(str(raw.path))
    for line, text, message in check.raw.malformed:
        con.execute(
            f'INSERT INTO "{rejects}" VALUES ({literal(contract.name)}, {file}, {line}, NULL, NULL, '
            f"{literal(reason(reasons.MALFORMED, problem=message))}, {literal(text)})"
        ).fetchall()
    accepted = f"{raw.table}_accepted"
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{accepted}" AS SELECT {", ".join(_accepted_columns(contract, present, mapping, context))}, _row '
        f'FROM "{typed}" WHERE NOT {rejected}'
    ).fetchall()
    if context.fx_rates is None and "currency" in mapping.sources:  # with an FX table: one currency
        require_one_currency(con, [accepted], contract, str(raw.path))
    rejected_rows = 0
    if bad_rows or check.raw.malformed:
        (rejected_rows,) = con.execute(f'SELECT count(DISTINCT row) FROM "{rejects}"').fetchall()[0]
    return Validated(
        accepted_table=accepted,
        rejects_table=rejects,
        rows_read=int(rows) + len(check.raw.malformed),
        rows_accepted=int(rows) - int(bad_rows),
        rows_rejected=int(rejected_rows),
        read_as=reading.formats.notes,
    )


def _type_all(check: _Check, reading: _Reading) -> _Reading:
    """Type every row (:func:`_type`), again with the formats of their whole columns for the columns whose
    values the first pass found unusual, as well as for those whose formats were chosen so already; return
    the reading the typed rows were read with."""
    unusual = _type(check, reading)
    if not unusual:
        return reading
    unusual |= reading.examined
    reading = _reading(check.con, check.raw, check.present, check.mapping, check.context, unusual)
    _type(check, reading)
    return reading


def _number_in_place(check: _Check) -> bool:
    """For a text file typed in place: when each line was read as one row (:func:`lines_in_order`), make
    ``check.typed`` a view of the typed rows with ``_row``, each row's line number from its position, and
    return True; False when the file must be read again with its line numbers."""
    con, typed, raw = check.con, check.typed, check.raw
    (rows, overflowing) = con.execute(
        f'SELECT count(*), coalesce(bool_or({OVERFLOWING}), false) FROM "{typed}"'
    ).fetchall()[0]
    if not lines_in_order(con, raw, int(rows), bool(overflowing)):
        return False
    con.execute(f'ALTER TABLE "{typed}" RENAME TO "{typed}_in_place"').fetchall()
    con.execute(
        f'CREATE TEMP VIEW "{typed}" AS SELECT * EXCLUDE ({OVERFLOWING}) '
        f'REPLACE (CAST(rowid + {raw.first_line} AS BIGINT) AS _row) FROM "{typed}_in_place"'
    ).fetchall()
    return True


def _type(check: _Check, reading: _Reading) -> frozenset[str]:
    """Create ``check.typed``: every row typed, with ``_bad`` when it breaks a one-row rule, in one pass
    over the raw rows; return the columns that pass's screens found unusual (:func:`_screens`)."""
    con, typed = check.con, check.typed
    screens = _screens(check.present, check.mapping, reading)
    carried = (OVERFLOWING,) if check.raw.first_line is not None else ()  # read in place: one row per line?
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{typed}" AS {typing_select(check, reading, screens, carried)}'
    ).fetchall()
    if not screens:
        return frozenset()
    found = con.execute(
        f'SELECT {", ".join(f"bool_or({_unusual(name)})" for name in screens)} FROM "{typed}"'
    ).fetchall()[0]
    return frozenset(name for name, unusual in zip(screens, found, strict=True) if unusual)


def typing_select(
    check: _Check, reading: _Reading, screens: Mapping[str, str], carried: tuple[str, ...] = (), listed: bool = False
) -> str:
    """SQL of the typing pass over ``check.raw``: ``_row`` (and the raw columns ``carried``), every
    canonical column typed, the extras, ``_bad`` (a one-row rule is broken) and a flag ``_unusual(name)``
    per screen (SQL over the checks row ``t``).

    ``listed``: the rows are the accepted rows' columns (:func:`_accepted_columns`) instead of the typed
    ones, with ``_rejects`` (a list of (column_name, value, reason), one per broken rule) and
    ``_raw_json`` (the raw row) on rows with ``_bad``: the whole check of a batch of rows in one query,
    as an engine that runs it batch by batch needs it (Spark, :mod:`kvar.data.spark_loading`).
    """
    present, mapping = check.present, check.mapping
    rules = _row_rules(check.contract, present, reading, check.context, check.now)
    broken = " OR ".join(f"({condition})" for _, condition, _ in rules) or "false"
    flags = "".join(f", coalesce({screen}, false) AS {_unusual(name)}" for name, screen in screens.items())
    kept = "".join(f", {name}" for name in carried)
    if not listed:
        outputs = [f'"{column.name}"' for column in present] + [f'"{name}"' for name in mapping.extras]
        return (
            f"SELECT _row{kept}, {', '.join(outputs)}, coalesce({broken}, false) AS _bad{flags} "
            f"FROM ({_checks_sql(check.raw, present, mapping, reading, check.context, extra=_carried(carried))}) t"
        )
    originals = "".join(
        f", {reading.original(mapping.sources[column.name])} AS {_original(column.name)}" for column in present
    )
    listed_rules = ", ".join(
        f"CASE WHEN {condition} THEN {{'column_name': {literal(name)}, "
        f"'value': {_original(name) if name in mapping.sources else 'NULL'}::VARCHAR, 'reason': {why}}} END"
        for name, condition, why in rules
    )
    checks = _checks_sql(
        check.raw,
        present,
        mapping,
        reading,
        check.context,
        extra=_carried(carried) + f", {_raw_row(check.raw)} AS _raw_row{originals}",
    )
    accepted = ", ".join(_accepted_columns(check.contract, present, mapping, check.context))
    return (
        f"SELECT _row{kept}, {accepted}, _bad{''.join(f', {_unusual(name)}' for name in screens)}, "
        f"CASE WHEN _bad THEN list_filter([{listed_rules}], lambda x: x IS NOT NULL) END AS _rejects, "
        f"CASE WHEN _bad THEN to_json(_raw_row)::VARCHAR END AS _raw_json "
        f"FROM (SELECT *, coalesce({broken}, false) AS _bad{flags} FROM ({checks}) t) t"
    )


def _raw_row(raw: RawTable) -> str:
    """SQL of the raw row ``r`` as a struct of the file's own columns, as a reject's ``raw`` shows it
    (kvar's ``_row`` and the like left out)."""
    fields = ", ".join(f'{literal(name)}: r."{name}"' for name in raw.columns)
    return f"{{{fields}}}"


def _carried(columns: tuple[str, ...]) -> str:
    return "".join(f", r.{name} AS {name}" for name in columns)


def _write_rejects(
    check: _Check,
    reading: _Reading,
    flagged: str | None,
    rules: list[tuple[str, str, str]],
    rejects: str,
    rejected: str,
) -> None:
    """One reject per broken rule of each rejected row (SQL ``rejected`` over the typed rows), with the value
    as the file had it and the raw row as JSON."""
    con, raw, contract, present, mapping, typed = (
        check.con,
        check.raw,
        check.contract,
        check.present,
        check.mapping,
        check.typed,
    )
    originals = "".join(
        f", {reading.original(mapping.sources[column.name])} AS {_original(column.name)}" for column in present
    )
    bad = f"{raw.table}_bad"
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{bad}" AS '
        + _checks_sql(
            raw,
            present,
            mapping,
            reading,
            check.context,
            extra=f", to_json({_raw_row(raw)})::VARCHAR AS _raw_json{originals}",
            where=f'WHERE r._row IN (SELECT _row FROM "{typed}" WHERE {rejected})',
        )
    ).fetchall()
    head = f"{literal(contract.name)}, {literal(str(raw.path))}"
    for column_name, condition, why in rules:
        value = _original(column_name) if column_name in mapping.sources else "NULL"
        con.execute(
            f'INSERT INTO "{rejects}" SELECT {head}, _row, {literal(column_name)}, {value}, {why}, _raw_json '
            f'FROM "{bad}" t WHERE {condition}'
        ).fetchall()
    if flagged:
        for (name,) in con.execute(f'SELECT DISTINCT column_name FROM "{flagged}"').fetchall():
            con.execute(
                f'INSERT INTO "{rejects}" SELECT {head}, f._row, f.column_name, b.{_original(name)}, f.reason, b._raw_json '
                f'FROM "{flagged}" f JOIN "{bad}" b USING (_row) WHERE f.column_name = {literal(name)}'
            ).fetchall()


def duplicate_reason(identity: tuple[str, ...], *, in_other_file: bool = False) -> list[str]:
    """The reason of a later duplicate of a row identified by ``identity`` as its pieces: texts, and
    between them the names of the values an engine puts there, ``row`` (where the row was first seen)
    and, ``in_other_file``, ``file`` (the path of the file of a folder or glob it was first seen in)."""
    if len(identity) <= 2:
        template = reasons.DUPLICATE_IN_FILE if in_other_file else reasons.DUPLICATE
        template = reason(template, key=" and ".join(identity), row="{row}", file="{file}")
    else:
        template = reasons.DUPLICATE_LINE_IN_FILE if in_other_file else reasons.DUPLICATE_LINE
    return re.split(r"\{(\w+)\}", template)


def _flag_set_rules(
    con: duckdb.DuckDBPyConnection,
    typed: str,
    file: str,
    contract: TableContract,
    present: list[Column],
    context: LoadContext,
) -> str | None:
    """Rules about other rows, as set operations over the typed rows of ``file``: a later duplicate in the file, a
    record already in the workspace, a customer the workspace does not know. The rows found are listed
    (``_row``, column, reason) in a small table, whose name is returned; None when no rule applies or no
    row breaks one."""
    names = [column.name for column in present]
    found: list[str] = []
    identity = contract.row_identity(names)
    if identity:
        found.append(_later_duplicates(con, typed, file, identity, context.file_set))
    stored = contract.stored_identity(names, context.existing_columns)
    if stored and context.existing_keys_table:
        match = " AND ".join(f'e."{name}" = t."{name}"' for name in stored)
        record = "order" if contract.line_key and len(stored) == 1 else " and ".join(stored)
        found.append(
            f"SELECT t._row, {literal(stored[0])} AS column_name, "
            f"{literal(reason(reasons.ALREADY_LOADED, record=record, column=stored[0]))} AS reason "
            f'FROM "{typed}" t WHERE EXISTS (SELECT 1 FROM {context.existing_keys_table} e WHERE {match})'
        )
    if context.customers_table and "customer_id" in names and contract.name != "customers":
        found.append(
            f"SELECT t._row, 'customer_id' AS column_name, {literal(reasons.UNKNOWN_CUSTOMER)} AS reason FROM \"{typed}\" t "
            f"WHERE t.customer_id IS NOT NULL AND t.customer_id NOT IN (SELECT customer_id FROM {context.customers_table})"
        )
    if not found:
        return None
    flagged = f"{typed}_flagged"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{flagged}" AS {" UNION ALL ".join(found)}').fetchall()
    return flagged if con.execute(f'SELECT 1 FROM "{flagged}" LIMIT 1').fetchall() else None


def _later_duplicates(
    con: duckdb.DuckDBPyConnection,
    typed: str,
    file: str,
    identity: tuple[str, ...],
    file_set: FileSet | None,
) -> str:
    """SQL of the rows of ``typed`` (the rows of ``file``: ``_row``, column, reason) that repeat the
    ``identity`` of an earlier row: of the same file, or, in a ``file_set``, of a file read before it
    with the same identity. The reason names the first row's number, and its file when that is another.

    In a set, each identity's first row so far is kept in a table of the set's (:class:`FileSet`), to
    which this file's first rows are added: each file is compared with one table, not with every file
    before it."""
    key = identity[0]
    columns = ", ".join(f'"{name}"' for name in identity)
    same = _matching(identity, "t", "d")
    if file_set is None:  # one file: a row's position is its row number
        here = _filled(duplicate_reason(identity), {"row": "d._first"})
        return (
            f"SELECT t._row, {literal(key)} AS column_name, {here} AS reason "
            f'FROM "{typed}" t JOIN (SELECT {columns}, min(_row) AS _first FROM "{typed}" WHERE "{key}" IS NOT NULL '
            f"GROUP BY ALL HAVING count(*) > 1) d ON {same} WHERE t._row > d._first"
        )
    # a row's position is (its file's place in the set, its row number)
    place = file_set.place
    seen, paths = _seen_tables(con, file_set, identity, typed, file)
    firsts = f"SELECT {columns}, {{'file': {place}, 'row': min(_row)}} AS _first FROM \"{typed}\" WHERE \"{key}\" IS NOT NULL GROUP BY ALL"
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{seen}_here" AS SELECT h.* EXCLUDE (_first), '
        f'coalesce(e._first, h._first) AS _first FROM ({firsts}) h LEFT JOIN "{seen}" e ON {_matching(identity, "e", "h")}'
    ).fetchall()
    con.execute(f'INSERT INTO "{seen}" SELECT * FROM "{seen}_here" WHERE _first.file = {place}').fetchall()
    here = _filled(duplicate_reason(identity), {"row": "d._first.row"})
    elsewhere = _filled(duplicate_reason(identity, in_other_file=True), {"row": "d._first.row", "file": "p.path"})
    return (
        f"SELECT t._row, {literal(key)} AS column_name, "
        f"CASE WHEN d._first.file = {place} THEN {here} ELSE {elsewhere} END AS reason "
        f'FROM "{typed}" t JOIN "{seen}_here" d ON {same} JOIN "{paths}" p ON p.place = d._first.file '
        f"WHERE {{'file': {place}, 'row': t._row}} > d._first"
    )


def _matching(identity: tuple[str, ...], left: str, right: str) -> str:
    """SQL: the rows ``left`` and ``right`` have the same ``identity`` (a missing value matching a missing one)."""
    return " AND ".join(f'{left}."{name}" IS NOT DISTINCT FROM {right}."{name}"' for name in identity)


def _seen_tables(
    con: duckdb.DuckDBPyConnection, file_set: FileSet, identity: tuple[str, ...], typed: str, file: str
) -> tuple[str, str]:
    """The set's table of first rows for ``identity`` (made empty, with the columns' types in ``typed``, on
    first use) and its table of paths by place, to which ``file`` is added."""
    number = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:12]
    seen, paths = f"{file_set.name}_{number}", f"{file_set.name}_paths"
    columns = ", ".join(f'"{name}"' for name in identity)
    con.execute(
        f'CREATE TEMP TABLE IF NOT EXISTS "{seen}" AS SELECT {columns}, '
        f"{{'file': 0, 'row': 0::BIGINT}} AS _first FROM \"{typed}\" WHERE false"
    ).fetchall()
    con.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{paths}" (place INTEGER, path VARCHAR)').fetchall()
    con.execute(
        f'INSERT INTO "{paths}" SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM "{paths}" WHERE place = ?)',
        [file_set.place, file, file_set.place],
    ).fetchall()
    return seen, paths


def _filled(pieces: list[str], values: Mapping[str, str]) -> str:
    """SQL of a reason from :func:`duplicate_reason`'s pieces, its values the SQL ``values`` names."""
    return " || ".join(
        literal(piece) if index % 2 == 0 else f"CAST({values[piece]} AS VARCHAR)" for index, piece in enumerate(pieces)
    )


def _row_rules(
    contract: TableContract, present: list[Column], reading: _Reading, context: LoadContext, now: dt.datetime
) -> list[tuple[str, str, str]]:
    """(column, SQL condition on the checks row ``t``, SQL reason) of each rule one row decides alone."""
    formats = reading.formats
    rules: list[tuple[str, str, str]] = []
    names = {column.name for column in present}
    for column in present:
        name = column.name
        raw_value = f"t.{_raw(name)}"
        typed_value = f't."{name}"'
        if column.required:
            rules.append((name, f"{raw_value} IS NULL", literal(reason(reasons.MISSING, column=name))))
        if column.kind == "id":  # a plain identifier breaks neither rule
            plain = f"t.{_plain(name)}"
            control = f"regexp_matches({raw_value}, '[\\x00-\\x1f\\x7f\\x{{FFFD}}]')"
            rules.append((name, f"CASE WHEN {plain} THEN false ELSE {control} END", literal(reasons.CONTROL_IN_ID)))
            rules.append(
                (
                    name,
                    f"CASE WHEN {plain} THEN false ELSE contains({raw_value}, '\"') END",
                    literal(reasons.QUOTE_IN_ID),
                )
            )
        if column.kind == "text":
            rules.append((name, f"contains({raw_value}, '\ufffd')", literal(reasons.UNREADABLE)))
        if column.kind == "time":
            unparseable = (
                reason(reasons.BAD_TIME_OR, format=formats.dates[name][0])
                if name in formats.dates
                else reasons.BAD_TIME
            )
            if name in formats.hints:
                unparseable = reason(reasons.WITH_HINT, reason=unparseable, hint=formats.hints[name])
            rules.append((name, f"{raw_value} IS NOT NULL AND {typed_value} IS NULL", literal(unparseable)))
            limit = now + dt.timedelta(days=1)
            if not column.scheduled:
                rules.append(
                    (
                        name,
                        f"{typed_value} > TIMESTAMP '{limit.isoformat(sep=' ')}'",
                        literal(reason(reasons.FUTURE, limit=f"{limit:%Y-%m-%d %H:%M}")),
                    )
                )
        if column.kind in ("money", "number"):
            number = formats.number(name)
            expected = (
                reasons.NOT_A_NUMBER
                if number.plain
                else reason(reasons.NOT_IN_FORMAT, format=number.label(translated=False), example=number.example())
            )
            rules.append((name, f"{raw_value} IS NOT NULL AND {typed_value} IS NULL", literal(expected)))
            rules.append(
                (name, f"{typed_value} IS NOT NULL AND NOT isfinite({typed_value})", literal(reasons.NOT_FINITE))
            )
            if column.minimum is not None:
                rules.append(
                    (
                        name,
                        f"{typed_value} < {column.minimum}",
                        literal(reason(reasons.BELOW_MINIMUM, column=name, minimum=f"{column.minimum:g}")),
                    )
                )
        if column.choices:
            allowed = ", ".join(sorted(set(column.choices)))
            rules.append(
                (
                    name,
                    f"{raw_value} IS NOT NULL AND {typed_value} IS NULL",
                    literal(reason(reasons.UNKNOWN_CHOICE, column=name, choices=allowed)),
                )
            )
        if column.kind == "currency":
            codes = ", ".join(literal(code) for code in sorted(ISO_4217))
            rules.append(
                (
                    name,
                    f"{typed_value} IS NOT NULL AND {typed_value} NOT IN ({codes})",
                    literal(reasons.UNKNOWN_CURRENCY),
                )
            )
            if context.fx_rates is not None:
                known = ", ".join(literal(code) for code in sorted(context.fx_rates))
                rules.append(
                    (name, f"{typed_value} IS NOT NULL AND {typed_value} NOT IN ({known})", literal(reasons.NO_RATE))
                )
    if {"started_at", "ended_at"} <= names:
        rules.append(("ended_at", 't."ended_at" < t."started_at"', literal(reasons.ENDS_BEFORE_START)))
    if contract.name == "feedback" and "score" in names:
        for kind, (low, high) in SCORE_RANGES.items():
            rules.append(
                (
                    "score",
                    f"t.kind = '{kind}' AND (t.score < {low} OR t.score > {high})",
                    literal(reason(reasons.SCORE_RANGE, kind=kind, low=low, high=high)),
                )
            )
    return rules


def _accepted_columns(
    contract: TableContract, present: list[Column], mapping: ResolvedMapping, context: LoadContext
) -> list[str]:
    """SQL select items of the accepted rows: the typed columns with refunds negative and, with an FX table,
    money in the base currency (the amounts and currency as given kept in ``*_original``), then the extras."""
    names = [column.name for column in present]
    values = {name: f'"{name}"' for name in names}
    if contract.name == "transactions" and "kind" in names and "amount" in names:
        values["amount"] = "CASE WHEN kind = 'refund' THEN -abs(amount) ELSE amount END"
    originals: list[str] = []
    if "currency" in names and context.fx_rates is not None:
        base = context.base_currency or "USD"
        cases = " ".join(f"WHEN {literal(code)} THEN {rate!r}" for code, rate in context.fx_rates.items())
        for column in present:
            if column.kind == "money":
                originals.append(f'{values[column.name]} AS "{column.name}_original"')
                values[column.name] = f"{values[column.name]} * CASE currency {cases} ELSE 1.0 END"
        originals.append("currency AS currency_original")
        values["currency"] = f"CASE WHEN currency IS NOT NULL THEN {literal(base)} END"
    return (
        [f'{value} AS "{name}"' for name, value in values.items()]
        + [f'"{name}"' for name in mapping.extras]
        + originals
    )


def require_one_currency(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str], contract: TableContract, location: str
) -> None:
    """:func:`check_one_currency` over the rows of ``tables`` together (accepted rows of a file, of the
    files of a set, or a workspace table with a file's), read from ``location``; the tables without a
    currency column are left out. Rows an FX table converted carry the base currency."""
    if "currency" not in contract.names:
        return
    priced = [table for table in tables if "currency" in table_columns(con, table)]
    if not priced:
        return
    rows = " UNION ALL ".join(f'SELECT currency FROM "{table}"' for table in priced)
    found = con.execute(f"SELECT currency, count(*) FROM ({rows}) WHERE currency IS NOT NULL GROUP BY 1").fetchall()
    check_one_currency(found, location, contract.name)


def check_one_currency(found: list[tuple[str, int]], path: str, table: str) -> None:
    """Mixed currencies without an FX table stop the load: summing them would be wrong (``found``: the
    accepted rows per currency code)."""
    if len(found) > 1:
        listed = ", ".join(
            f"{code} ({count} rows)" for code, count in sorted(found, key=lambda item: (-item[1], item[0]))
        )
        raise ValidationError(
            tr(
                "{path}: {name}.currency mixes {listed}; kvar adds amounts, so they must share one currency. Nothing was loaded. Hint: pass an FX table with --fx rates.csv (columns currency,rate; amount in base currency = amount x rate)."
            ).format(path=path, name=table, listed=listed)
        )
