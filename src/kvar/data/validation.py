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
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from kvar.data import reasons
from kvar.data.contracts import SCORE_RANGES, Column, TableContract
from kvar.data.currencies import ISO_4217
from kvar.data.formats import (
    ColumnFormats,
    default_time_sql,
    detect_formats,
    number_formats_allowed,
    strptime_sql,
)
from kvar.data.mapping import ResolvedMapping
from kvar.data.reading import RawTable
from kvar.data.reasons import reason
from kvar.data.sql import literal
from kvar.errors import ValidationError
from kvar.i18n import tr

REJECTS_COLUMNS = (
    "table_name VARCHAR, file VARCHAR, row BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR, raw VARCHAR"
)


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
    """The trimmed text of a column, NULL when empty (optionally of table alias ``table``)."""
    prefix = f"{table}." if table else ""
    return f"NULLIF(trim(CAST({prefix}\"{name}\" AS VARCHAR)), '')"


def _typed(column: Column, formats: ColumnFormats, context: LoadContext) -> str:
    value = _text(column.name)
    if column.kind == "time":
        parsed = default_time_sql(value)
        if column.name in formats.dates:  # the user's --date-format first; a detected order after ISO
            other = f"{strptime_sql(value, formats.dates[column.name])}::TIMESTAMPTZ"
            parsed = f"coalesce({other}, {parsed})" if context.date_format else f"coalesce({parsed}, {other})"
        return f"timezone('UTC', {parsed})"
    if column.kind in ("money", "number"):
        return formats.number(column.name).value(value)
    if column.kind == "currency":
        return f"upper({value})"
    if column.choices:
        cases = " ".join(f"WHEN {literal(key)} THEN {literal(canonical)}" for key, canonical in column.choices.items())
        return f"CASE lower({value}) {cases} END"
    return value


def _column_formats(
    con: duckdb.DuckDBPyConnection, raw: RawTable, present: list[Column], mapping: ResolvedMapping, context: LoadContext
) -> ColumnFormats:
    """Each number and time column's format, read from the raw file (a product's factors by their own names)."""
    numbers: dict[str, str] = {}
    times: dict[str, str] = {}
    for column in present:
        sources = mapping.sources[column.name].columns
        if column.kind in ("money", "number"):
            numbers.update(
                {column.name: _text(sources[0])} if len(sources) == 1 else {name: _text(name) for name in sources}
            )
        elif column.kind == "time":
            times[column.name] = _text(sources[0])
    allowed = number_formats_allowed(context.decimal, context.thousands)
    return detect_formats(con, raw.table, numbers, times, allowed, context.date_format, str(raw.path))


def validate(
    con: duckdb.DuckDBPyConnection,
    raw: RawTable,
    contract: TableContract,
    mapping: ResolvedMapping,
    context: LoadContext,
) -> Validated:
    """Check ``raw`` against ``contract``; create ``<raw>_accepted`` and ``<raw>_rejects`` temp tables."""
    con.execute(f"SET TimeZone = {literal(context.timezone)}").fetchall()
    now = context.now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    present = [column for column in contract.columns if column.name in mapping.sources]
    formats = _column_formats(con, raw, present, mapping, context)
    mapped = f"{raw.table}_mapped"
    selects = [
        f'{source.sql(lambda name: formats.number(name).value(_text(name)))} AS "{name}"'
        for name, source in mapping.sources.items()
    ]
    selects += [f'"{name}"' for name in mapping.extras]
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{mapped}" AS SELECT _row, {", ".join(selects)} FROM "{raw.table}"'
    ).fetchall()
    typed_columns = {column.name: _typed(column, formats, context) for column in present}
    typed = f"{raw.table}_typed"
    identity = contract.row_identity(list(typed_columns))
    partition = ", ".join(f'"{name}"' for name in identity)
    first_row = f", min(_row) OVER (PARTITION BY {partition}) AS _first_row" if identity else ""
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{typed}" AS SELECT *{first_row} FROM (SELECT _row, '
        + ", ".join(f'{expression} AS "{name}"' for name, expression in typed_columns.items())
        + f' FROM "{mapped}")'
    ).fetchall()
    rules = _rules(contract, present, formats, context, now)
    rejects = f"{raw.table}_rejects"
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{rejects}" ({REJECTS_COLUMNS})').fetchall()
    file = literal(str(raw.path))
    for column_name, condition, why in rules:
        value = f'CAST(m."{column_name}" AS VARCHAR)' if column_name in mapping.sources else "NULL"
        con.execute(
            f'INSERT INTO "{rejects}" SELECT {literal(contract.name)}, {file}, t._row, {literal(column_name)}, '
            f"{value}, {why}, to_json(r)::VARCHAR "
            f'FROM "{typed}" t JOIN "{mapped}" m USING (_row) JOIN "{raw.table}" r ON r._row = t._row WHERE {condition}'
        ).fetchall()
    for line, text, message in raw.malformed:
        con.execute(
            f'INSERT INTO "{rejects}" VALUES ({literal(contract.name)}, {file}, {line}, NULL, NULL, '
            f"{literal(reason(reasons.MALFORMED, problem=message))}, {literal(text)})"
        ).fetchall()
    accepted = f"{raw.table}_accepted"
    outputs = [f'"{name}"' for name in typed_columns] + [f'm."{name}"' for name in mapping.extras]
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{accepted}" AS SELECT '
        + ", ".join(f"t.{output}" if not output.startswith("m.") else output for output in outputs)
        + f', t._row FROM "{typed}" t JOIN "{mapped}" m USING (_row) '
        f'WHERE t._row NOT IN (SELECT row FROM "{rejects}" WHERE row IS NOT NULL) ORDER BY t._row'
    ).fetchall()
    _normalise_amounts(con, accepted, contract, typed_columns, context, raw)
    (rejected_rows,) = con.execute(f'SELECT count(DISTINCT row) FROM "{rejects}"').fetchall()[0]
    (accepted_rows,) = con.execute(f'SELECT count(*) FROM "{accepted}"').fetchall()[0]
    return Validated(
        accepted_table=accepted,
        rejects_table=rejects,
        rows_read=raw.rows + len(raw.malformed),
        rows_accepted=int(accepted_rows),
        rows_rejected=int(rejected_rows),
        read_as=formats.notes,
    )


def _rules(
    contract: TableContract, present: list[Column], formats: ColumnFormats, context: LoadContext, now: dt.datetime
) -> list[tuple[str, str, str]]:
    """(column, SQL condition on typed ``t`` / mapped ``m``, SQL reason expression) for each rule."""
    rules: list[tuple[str, str, str]] = []
    names = {column.name for column in present}
    for column in present:
        name = column.name
        raw_value = _text(name, "m")
        typed_value = f't."{name}"'
        if column.required:
            rules.append((name, f"{raw_value} IS NULL", literal(reason(reasons.MISSING, column=name))))
        if column.kind == "id":
            rules.append(
                (name, f"regexp_matches({raw_value}, '[\\x00-\\x1f\\x7f\\x{{FFFD}}]')", literal(reasons.CONTROL_IN_ID))
            )
            rules.append((name, f"contains({raw_value}, '\"')", literal(reasons.QUOTE_IN_ID)))
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
    identity = contract.row_identity([column.name for column in present])
    if identity:
        key = identity[0]
        template = (
            reason(reasons.DUPLICATE, key=" and ".join(identity), row="{row}")
            if len(identity) <= 2
            else reasons.DUPLICATE_LINE
        )
        before, after = template.split("{row}")
        rules.append(
            (
                key,
                f't."{key}" IS NOT NULL AND t._first_row < t._row',
                f"{literal(before)} || t._first_row || {literal(after)}",
            )
        )
    stored = contract.stored_identity([column.name for column in present], context.existing_columns)
    if stored and context.existing_keys_table:
        match = " AND ".join(f'e."{name}" = t."{name}"' for name in stored)
        record = "order" if contract.line_key and len(stored) == 1 else " and ".join(stored)
        rules.append(
            (
                stored[0],
                f"EXISTS (SELECT 1 FROM {context.existing_keys_table} e WHERE {match})",
                literal(reason(reasons.ALREADY_LOADED, record=record, column=stored[0])),
            )
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
    if context.customers_table and "customer_id" in names and contract.name != "customers":
        rules.append(
            (
                "customer_id",
                f't."customer_id" IS NOT NULL AND t."customer_id" NOT IN (SELECT customer_id FROM {context.customers_table})',
                literal(reasons.UNKNOWN_CUSTOMER),
            )
        )
    return rules


def _normalise_amounts(
    con: duckdb.DuckDBPyConnection,
    accepted: str,
    contract: TableContract,
    typed_columns: Mapping[str, str],
    context: LoadContext,
    raw: RawTable,
) -> None:
    """Refunds negative; currencies checked for mixing, or converted with the FX table."""
    if contract.name == "transactions" and "kind" in typed_columns:
        con.execute(f"UPDATE \"{accepted}\" SET amount = -abs(amount) WHERE kind = 'refund'").fetchall()
    if "currency" not in typed_columns:
        return
    money = [column.name for column in contract.columns if column.kind == "money" and column.name in typed_columns]
    if context.fx_rates is not None:
        base = context.base_currency or "USD"
        cases = " ".join(f"WHEN {literal(code)} THEN {rate!r}" for code, rate in context.fx_rates.items())
        for name in money:
            con.execute(f'ALTER TABLE "{accepted}" ADD COLUMN "{name}_original" DOUBLE').fetchall()
            con.execute(
                f'UPDATE "{accepted}" SET "{name}_original" = "{name}", "{name}" = "{name}" * CASE currency {cases} ELSE 1.0 END'
            ).fetchall()
        con.execute(f'ALTER TABLE "{accepted}" ADD COLUMN currency_original VARCHAR').fetchall()
        con.execute(
            f'UPDATE "{accepted}" SET currency_original = currency, currency = {literal(base)} WHERE currency IS NOT NULL'
        ).fetchall()
        return
    found = con.execute(
        f'SELECT currency, count(*) FROM "{accepted}" WHERE currency IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1'
    ).fetchall()
    if len(found) > 1:
        listed = ", ".join(f"{code} ({count} rows)" for code, count in found)
        raise ValidationError(
            tr(
                "{path}: {name}.currency mixes {listed}; kvar adds amounts, so they must share one currency. Nothing was loaded. Hint: pass an FX table with --fx rates.csv (columns currency,rate; amount in base currency = amount x rate)."
            ).format(path=raw.path, name=contract.name, listed=listed)
        )
