"""Why a row was rejected: every reason's wording, written once, stored in English, shown in the reader's language.

A rejected row keeps its reason in the rejects table and files as English text built from one of the
templates below: stored data must not change with who loaded it, and ``--json`` shows it as stored.
Where people read a reason (the load summary, ``kvar rejects`` as a table or CSV, the error when every
row was rejected), :func:`shown_reason` matches it back to its template and writes it in the active
locale, translating the parts that are themselves texts (the expected number format, a hint).
"""

from __future__ import annotations

import re
from functools import cache

from kvar.i18n import marked, tr

MISSING = marked("missing value: {column} is required")
CONTROL_IN_ID = marked(
    "bad identifier: contains a control character (NUL, tab, line break) or an unreadable byte; "
    "a field running across lines means an unbalanced quote"
)
QUOTE_IN_ID = marked("bad identifier: contains a double quote; the file's quoting is probably broken on this line")
UNREADABLE = marked("unreadable character (U+FFFD): a stray carriage return or bytes not valid in the file's encoding")
BAD_TIME = marked("unparseable time: expected ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]) or YYYYMMDD")
BAD_TIME_OR = marked("unparseable time: expected ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM]) or YYYYMMDD or {format}")
WITH_HINT = marked("{reason}; {hint}")
AMBIGUOUS_DATES = marked(
    "no day is above 12, so the dates read day-first or month-first; pass --date-format, "
    "e.g. {day_first} (day first) or {month_first} (month first)"
)
MIXED_SEPARATORS = marked("the column mixes date separators ({separators}); pass --date-format")
FUTURE = marked("time in the future: after {limit} UTC")
NOT_A_NUMBER = marked("not a number: expected digits with an optional sign and decimal point")
NOT_IN_FORMAT = marked("not a number: expected a number with {format}, as in the rest of the column (e.g. {example})")
NOT_FINITE = marked("not a finite number")
BELOW_MINIMUM = marked("expected {column} >= {minimum}")
UNKNOWN_CHOICE = marked("unknown {column}: expected one of {choices}")
UNKNOWN_CURRENCY = marked("unknown currency: expected an ISO 4217 code such as USD or EUR")
NO_RATE = marked("no FX rate for this currency in the FX table")
DUPLICATE = marked("duplicate {key}: first seen at row {row}")
DUPLICATE_LINE = marked("duplicate line (the same values in every column): first seen at row {row}")
#: Where a later duplicate was first seen (``row 12``, ``row 12 of /data/part-1.csv``): a pattern, replaced by
#: ``row N`` where reasons are counted together.
FIRST_SEEN = r"row \d+( of .+)?$"
#: A later duplicate whose first copy is in another file of a folder or glob read as one table.
DUPLICATE_IN_FILE = marked("duplicate {key}: first seen at row {row} of {file}")
DUPLICATE_LINE_IN_FILE = marked("duplicate line (the same values in every column): first seen at row {row} of {file}")
ALREADY_LOADED = marked("{record} already loaded in the workspace ({column})")
ENDS_BEFORE_START = marked("ended_at before started_at")
SCORE_RANGE = marked("{kind} score outside {low}-{high}")
UNKNOWN_CUSTOMER = marked("unknown customer: not in the customers table")
MALFORMED = marked("malformed line: {problem}")
TOO_MANY_FIELDS = marked("more fields than the header's {count} columns")
FIELD_COUNT = marked("expected {width} fields, found {count}")

TEMPLATES = (
    MISSING,
    CONTROL_IN_ID,
    QUOTE_IN_ID,
    UNREADABLE,
    BAD_TIME,
    BAD_TIME_OR,
    AMBIGUOUS_DATES,
    MIXED_SEPARATORS,
    FUTURE,
    NOT_A_NUMBER,
    NOT_IN_FORMAT,
    NOT_FINITE,
    BELOW_MINIMUM,
    UNKNOWN_CHOICE,
    UNKNOWN_CURRENCY,
    NO_RATE,
    DUPLICATE_LINE_IN_FILE,  # before the templates they end like: their {row} would take " of …" too
    DUPLICATE_IN_FILE,
    DUPLICATE_LINE,
    DUPLICATE,
    ALREADY_LOADED,
    ENDS_BEFORE_START,
    SCORE_RANGE,
    UNKNOWN_CUSTOMER,
    MALFORMED,
    TOO_MANY_FIELDS,
    FIELD_COUNT,
    WITH_HINT,
)
#: The words of a number format's label (kvar.data.formats.NumberFormat.label), texts inside reasons too.
DECIMAL_MARKS = {",": marked("decimal comma"), ".": marked("decimal point")}
GROUPINGS = {
    " ": marked("thousands grouped by space"),
    ".": marked("thousands grouped by dot"),
    ",": marked("thousands grouped by comma"),
}
PHRASES = (*DECIMAL_MARKS.values(), *GROUPINGS.values())


def reason(template: str, **values: object) -> str:
    """The stored (English) reason: ``template`` with its ``{placeholders}`` filled."""
    return template.format(**values)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pieces = [re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)" for index, part in enumerate(parts)]
    return re.compile("".join(pieces), re.S)


def shown_reason(text: str) -> str:
    """A stored reason in the active locale's language (unchanged when it matches no template)."""
    if text in PHRASES:
        return tr(text)
    if ", " in text and all(part in PHRASES for part in text.split(", ")):
        return ", ".join(tr(part) for part in text.split(", "))
    for template in TEMPLATES:
        if (found := _pattern(template).fullmatch(text)) is not None:
            return tr(template).format(**{name: shown_reason(value) for name, value in found.groupdict().items()})
    return text
