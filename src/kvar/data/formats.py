"""How the text of a number or time column is read: decided once per column, never guessed per row.

Numbers. A number format is a decimal mark (``.`` or ``,``) and a thousands grouping (none, space, dot or
comma); "space" is any of the space, the no-break space U+00A0 and the narrow no-break space U+202F,
as Nordic Excel and accounting systems write them. A leading ``+``, ``-`` or the Unicode minus U+2212 is
a sign. Unless forced with ``--decimal`` / ``--thousands``, a column is read in the plain format (decimal
point, no grouping) when that reads every value; otherwise in the one format that reads the whole
column. Values that no format reads are rejected and do not take part in the choice. When two formats
read the whole column with different values and the plain one is not among them (``1,234``: 1.234 with
a decimal comma, 1234 with a thousands comma), nothing is loaded and the user is asked to choose. When
no format reads the whole column, the one reading most values is used and the others are rejected with
that format in the reason.

Times. ISO 8601 and ``YYYYMMDD`` are always read. Other dates need ``--date-format`` or are detected
when they are numeric with one separator (``31.01.2024``, ``1/31/2024``, optionally with ``HH:MM[:SS]``)
and exactly one of the day-first and month-first orders fits every such value of the column (a first
number above 12 means day-first, a second above 12 month-first); when both fit (no day above 12) the
column is not guessed and its values are rejected with a reason that says how to choose.

Every decision that is not the default is reported as a note, e.g. ``amount: decimal comma, thousands
grouped by space``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from kvar.data.reasons import (
    AMBIGUOUS_DATES,
    DECIMAL_MARKS,
    GROUPINGS,
    MIXED_SEPARATORS,
    reason,
)
from kvar.data.sql import literal
from kvar.errors import ParameterError, ValidationError
from kvar.i18n import marked, tr

_SIGN = "[+\\-\u2212]?"
_GROUP_CLASSES = {"": "", " ": "[ \u00a0\u202f]", ".": "\\.", ",": ","}
THOUSANDS_CHOICES = {"space": " ", " ": " ", ".": ".", ",": ",", "none": ""}
DECIMAL_CHOICES = (".", ",")


@dataclass(frozen=True)
class NumberFormat:
    """A decimal mark and a thousands grouping ("" none, " " any space, "." or ",")."""

    decimal: str = "."
    grouping: str = ""

    @property
    def plain(self) -> bool:
        return self == PLAIN

    def label(self, translated: bool = True) -> str:
        """e.g. ``decimal comma, thousands grouped by space``: in the active locale, or in English (as stored in reasons)."""
        say = tr if translated else str
        return say(DECIMAL_MARKS[self.decimal]) + (f", {say(GROUPINGS[self.grouping])}" if self.grouping else "")

    def example(self) -> str:
        grouped = f"1{self.grouping}234" if self.grouping else "1234"
        return f"{grouped}{self.decimal}50"

    def reads(self, text: str) -> str:
        """SQL: is the text expression ``text`` a number in this format (NULL text: NULL)."""
        if self.plain:
            return f"{_plain_double(text)} IS NOT NULL"
        integer = "\\d+"
        if self.grouping:
            integer = f"(\\d+|[1-9]\\d{{0,2}}({_GROUP_CLASSES[self.grouping]}\\d{{3}})+)"
        fraction = f"({_GROUP_CLASSES[self.decimal]}\\d+)?"
        return f"regexp_full_match({text}, {literal(_SIGN + integer + fraction)})"

    def value(self, text: str) -> str:
        """SQL: the DOUBLE the text expression ``text`` reads as, NULL when it is not a number here."""
        if self.plain:
            return _plain_double(text)
        signed = f"replace({text}, '\u2212', '-')"
        digits = signed
        if self.grouping:
            digits = f"regexp_replace({digits}, {literal(_GROUP_CLASSES[self.grouping])}, '', 'g')"
        if self.decimal == ",":
            digits = f"replace({digits}, ',', '.')"
        return f"CASE WHEN {self.reads(text)} THEN CAST({digits} AS DOUBLE) END"


def _plain_double(text: str) -> str:
    """SQL: the DOUBLE of plain number text (a Unicode minus read as ``-``); NULL when it is not one. The
    cast of the text as it is comes first: the minus is rare, and replacing it in every value costs as
    much as the cast."""
    return f"coalesce(try_cast({text} AS DOUBLE), try_cast(replace({text}, '\u2212', '-') AS DOUBLE))"


PLAIN = NumberFormat()
# Candidates in order of preference among formats that read a column the same way.
NUMBER_FORMATS = (
    PLAIN,
    NumberFormat(".", " "),
    NumberFormat(".", ","),
    NumberFormat(",", ""),
    NumberFormat(",", " "),
    NumberFormat(",", "."),
)

_TIMES = ("", " %H:%M", " %H:%M:%S")
_NUMERIC_DATE = "(\\d{1,2})([./-])(\\d{1,2})([./-])\\d{4}( \\d{1,2}:\\d{2}(:\\d{2})?)?"
_DATE_ORDERS = {"day-first": ("%d", "%m", "31{0}01{0}2024"), "month-first": ("%m", "%d", "01{0}31{0}2024")}


def date_order_formats(order: str, separator: str) -> tuple[str, ...]:
    """strptime formats of ``day-first`` or ``month-first`` dates with ``separator``, with or without a time."""
    first, second, _ = _DATE_ORDERS[order]
    return tuple(f"{first}{separator}{second}{separator}%Y{time}" for time in _TIMES)


def number_formats_allowed(decimal: str | None, thousands: str | None) -> tuple[NumberFormat, ...]:
    """The candidate formats left by ``--decimal`` and ``--thousands`` (checked; None: not forced)."""
    if decimal is not None and decimal not in DECIMAL_CHOICES:
        raise ParameterError(tr("--decimal {decimal!r}: expected . or ,").format(decimal=decimal))
    if thousands is not None and thousands not in THOUSANDS_CHOICES:
        raise ParameterError(tr("--thousands {thousands!r}: expected space, . , , or none").format(thousands=thousands))
    grouping = THOUSANDS_CHOICES[thousands] if thousands is not None else None
    if decimal is not None and grouping == decimal:
        raise ParameterError(
            tr("--decimal {decimal} and --thousands {thousands}: the decimal mark and the grouping must differ").format(
                decimal=decimal, thousands=thousands
            )
        )
    return tuple(
        candidate
        for candidate in NUMBER_FORMATS
        if (decimal is None or candidate.decimal == decimal) and (grouping is None or candidate.grouping == grouping)
    )


def strptime_sql(text: str, formats: Sequence[str]) -> str:
    """SQL: ``text`` parsed with the first matching strptime format (NULL when none matches)."""
    listed = ", ".join(literal(form) for form in formats)
    return f"try_strptime({text}, [{listed}])"


def default_time_sql(text: str) -> str:
    """SQL: the instant ISO 8601 or ``YYYYMMDD`` text denotes (``TIMESTAMPTZ``; naive text is local)."""
    return (
        f"coalesce(try_cast({text} AS TIMESTAMPTZ), CASE WHEN regexp_full_match({text}, '\\d{{8}}') "
        f"THEN try_strptime({text}, '%Y%m%d')::TIMESTAMPTZ END)"
    )


def plain_utc_time_sql(text: str) -> str:
    """SQL: naive ``YYYY-MM-DD[ HH:MM:SS]`` text as a ``TIMESTAMP``, for a load whose time zone is UTC; NULL
    for any other text (an offset, a zone, fractions, a ``T``), which :func:`default_time_sql` then reads.

    Where it reads a value it reads it as :func:`default_time_sql` and :func:`utc_sql` do, at a third of
    the cost (no time zone conversion): the usual export takes this path.
    """
    return strptime_sql(text, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"))


def utc_sql(instant: str) -> str:
    """SQL: the ``TIMESTAMPTZ`` expression ``instant`` as a naive UTC ``TIMESTAMP`` (from its epoch: no time
    zone arithmetic, whatever the session's zone)."""
    return f"make_timestamp(epoch_us({instant}))"


@dataclass(frozen=True)
class ColumnFormats:
    """How each number and time column of one file is read, with the notes and hints to report."""

    numbers: Mapping[str, NumberFormat] = field(default_factory=dict)
    dates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # strptime formats besides ISO
    notes: tuple[str, ...] = ()
    hints: Mapping[str, str] = field(default_factory=dict)  # column -> why its values may fail

    def number(self, name: str) -> NumberFormat:
        return self.numbers.get(name, PLAIN)


def detect_formats(
    con: duckdb.DuckDBPyConnection,
    table: str,
    number_columns: Mapping[str, str],
    time_columns: Mapping[str, str],
    allowed: Sequence[NumberFormat],
    date_format: str | None,
    where: str,
    screened: bool = False,
) -> ColumnFormats:
    """Choose each column's format from the whole column, in at most two scans of ``table``.

    ``number_columns`` and ``time_columns`` map a column's name to the SQL text expression of its values
    (NULL when empty). ``where`` names the file in errors. A first, cheap scan finds the columns the
    defaults read whole (the usual case); only the others are examined further. ``screened``: the caller
    has found these columns unusual already (the same test, :func:`may_be_grouped` included), so the cheap
    scan is skipped.
    """
    if not screened:
        numbers_unusual, times_unusual = unusual_columns(con, table, number_columns, time_columns)
        if len(allowed) == len(NUMBER_FORMATS):
            number_columns = {name: text for name, text in number_columns.items() if name in numbers_unusual}
        if not date_format:
            time_columns = {name: text for name, text in time_columns.items() if name in times_unusual}
    flags: list[str] = []  # per-row facts, each computed once in a subquery
    measures: list[str] = []  # their aggregates, in the order read back below
    for index, text in enumerate(number_columns.values()):
        flags += [f'{text} AS "n{index}"'] + [
            f'{candidate.reads(text)} AS "n{index}_{k}"' for k, candidate in enumerate(allowed)
        ]
        flags += [
            f'regexp_full_match({text}, {literal(_grouped_integer(mark))}) AS "n{index}_g{m}"'
            for m, mark in enumerate(DECIMAL_CHOICES)
        ]
        any_reads = " OR ".join(f'"n{index}_{k}"' for k in range(len(allowed)))
        measures += [f'count(*) FILTER (WHERE ({any_reads}) AND NOT "n{index}_{k}")' for k in range(len(allowed))]
        measures += [f'min("n{index}") FILTER (WHERE "n{index}_g{m}")' for m in range(len(DECIMAL_CHOICES))]
    dated = {} if date_format else time_columns
    for index, text in enumerate(dated.values()):
        # ISO 8601 and YYYYMMDD never match: they start with four digits
        flags += [
            f"regexp_extract({text}, {literal('^' + _NUMERIC_DATE + '$')}, ['first', 'separator', 'second', 'separator2']) AS \"t{index}\""
        ]
        parts = f'"t{index}"'
        numeric = f"{parts}.first <> ''"
        measures += [
            f"count_if({numeric})",
            f"max(TRY_CAST({parts}.first AS INTEGER)) FILTER (WHERE {numeric})",
            f"max(TRY_CAST({parts}.second AS INTEGER)) FILTER (WHERE {numeric})",
            f"list_sort(list_distinct(flatten(list([{parts}.separator, {parts}.separator2]) FILTER (WHERE {numeric}))))",
        ]
    numbers: dict[str, NumberFormat] = {}
    dates: dict[str, tuple[str, ...]] = {name: (date_format,) for name in time_columns} if date_format else {}
    notes: list[str] = []
    hints: dict[str, str] = {}
    if not measures:
        return ColumnFormats(numbers, dates)
    counts = iter(
        con.execute(f'SELECT {", ".join(measures)} FROM (SELECT {", ".join(flags)} FROM "{table}")').fetchone() or ()
    )
    for name in number_columns:
        failures = {candidate: next(counts) for candidate in allowed}
        grouped_examples = {mark: next(counts) for mark in DECIMAL_CHOICES}
        chosen, note = _choose_number_format(name, failures, grouped_examples, where)
        numbers[name] = chosen
        if note:
            notes.append(note)
    for name, text in dated.items():
        found, largest_first, largest_second, separators = (next(counts) for _ in range(4))
        if not found:
            continue
        orders = [
            order
            for order, fits in (
                (marked("day-first"), largest_first <= 31 and largest_second <= 12),
                (marked("month-first"), largest_first <= 12 and largest_second <= 31),
            )
            if fits
        ]
        if len(separators) > 1:
            hints[name] = reason(MIXED_SEPARATORS, separators=" ".join(separators))
        elif len(orders) == 1:
            if _reads_some(con, table, text, date_order_formats(orders[0], separators[0])):
                dates[name] = date_order_formats(orders[0], separators[0])
                notes.append(
                    tr("{column}: {order} dates ({example})").format(
                        column=name, order=tr(orders[0]), example=_DATE_ORDERS[orders[0]][2].format(separators[0])
                    )
                )
        elif orders:
            mark = separators[0]
            hints[name] = reason(AMBIGUOUS_DATES, day_first=f"%d{mark}%m{mark}%Y", month_first=f"%m{mark}%d{mark}%Y")
    return ColumnFormats(numbers, dates, tuple(notes), hints)


def unusual_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    number_columns: Mapping[str, str],
    time_columns: Mapping[str, str],
    sample: int | None = None,
) -> tuple[set[str], set[str]]:
    """The number and time columns (name -> SQL text expression) whose values the default formats do not
    settle: a value the plain number or ISO/``YYYYMMDD`` time does not read, or a number like ``1.234``
    that may be thousands. One scan of ``table``, or of its first ``sample`` rows."""
    checks = [
        f"count_if({text} IS NOT NULL AND NOT {PLAIN.reads(text)}) + count_if({may_be_grouped(text)})"
        for text in number_columns.values()
    ]
    checks += [f"count_if({text} IS NOT NULL AND {default_time_sql(text)} IS NULL)" for text in time_columns.values()]
    if not checks:
        return set(), set()
    rows = f'(SELECT * FROM "{table}" LIMIT {sample})' if sample else f'"{table}"'
    found = iter(con.execute(f"SELECT {', '.join(checks)} FROM {rows}").fetchone() or ())
    numbers = {name for name in number_columns if next(found)}
    return numbers, {name for name in time_columns if next(found)}


def _reads_some(con: duckdb.DuckDBPyConnection, table: str, text: str, formats: Sequence[str]) -> bool:
    """Whether any value of the column is a real date in ``formats`` (so that one impossible ``31/02/2026``
    alone does not make a column "day-first"); stops at the first such value."""
    return bool(
        con.execute(f'SELECT 1 FROM "{table}" WHERE {strptime_sql(text, formats)} IS NOT NULL LIMIT 1').fetchall()
    )


def may_be_grouped(text: str) -> str:
    """SQL: whether the text expression ``text`` reads as a plain number that could also be an integer
    grouped by ``.`` (``1.234``), which the plain format alone does not settle. Such a value ends in ``.``
    and three digits; a ``LIKE`` on that spares most values the regex."""
    return (
        f"CASE WHEN {text} LIKE '%.___' THEN regexp_full_match({text}, {literal(_grouped_integer('.'))}) ELSE false END"
    )


def _grouped_integer(mark: str) -> str:
    """Regex of a value that is an integer grouped by ``mark`` (``1.234``) or a decimal with that mark."""
    return _SIGN + f"[1-9]\\d{{0,2}}({_GROUP_CLASSES[mark]}\\d{{3}})+"


def _choose_number_format(
    name: str, failures: Mapping[NumberFormat, int], grouped_examples: Mapping[str, str | None], where: str
) -> tuple[NumberFormat, str | None]:
    """The column's format and its note, from the count of readable values each candidate fails to read.

    Two formats that both read the whole column disagree exactly on values like ``1.234`` when one reads
    the mark as decimal and the other as grouping; ``grouped_examples`` holds one such value per mark.
    """
    fitting = [candidate for candidate, failed in failures.items() if failed == 0]
    if not fitting:
        chosen = min(failures, key=lambda candidate: failures[candidate])  # ties: the first in preference order
        return chosen, None if chosen.plain else tr("{column}: {format} (most values)").format(
            column=name, format=chosen.label()
        )
    chosen = fitting[0]
    for other in fitting[1:]:
        for mark in DECIMAL_CHOICES:
            conflict = {chosen.decimal, other.decimal} & {mark} and {chosen.grouping, other.grouping} & {mark}
            example = grouped_examples.get(mark) if conflict else None
            if example is None:
                continue
            if chosen.plain:
                return chosen, tr(
                    "{column}: decimal point, so {example!r} is not read as thousands (pass --thousands {mark} if it is)"
                ).format(column=name, example=example, mark=mark)
            raise ValidationError(
                tr(
                    "{where}: {name} reads two ways, e.g. {example!r} with {chosen} or with {other}. Nothing was loaded. Pass --decimal , or --decimal . (and --thousands) to say which."
                ).format(where=where, name=name, example=example, chosen=chosen.label(), other=other.label())
            )
    return chosen, None if chosen.plain else f"{name}: {chosen.label()}"
