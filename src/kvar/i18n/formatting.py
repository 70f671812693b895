"""Numbers, percentages, amounts and dates written the way the active locale writes them (Babel, CLDR).

``sv``: ``1 234,50``, ``95,0 %``, ``1 234,50 SEK``, ``2024-07-01``; ``nb``: ``1 234,50``, ``95,0 %``,
``01.07.2024``; ``en``: ``1,234.50``, ``95.0%``, ``SEK 1,234.50`` and ISO dates. An amount always names
its ISO 4217 code, never a symbol (``kr`` is SEK, NOK or DKK). Percentages take values on the 0-100 scale,
as kvar's rates are. Machine output (JSON) never goes through here.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from kvar.i18n import active_locale

_DIGITS = re.compile(r"#,##0(\.0+)?")
_MISSING = "—"


def _with_decimals(pattern: str, decimals: int) -> str:
    return _DIGITS.sub("#,##0" + ("." + "0" * decimals if decimals else ""), pattern, count=1)


def _locale(locale: str | None) -> Locale:
    return Locale.parse(locale or active_locale())


def number(value: float | int | None, decimals: int = 0, locale: str | None = None) -> str:
    """``value`` grouped by thousands with ``decimals`` decimals, e.g. ``1 234,5`` (sv)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _MISSING
    return format_decimal(value, format=_with_decimals("#,##0", decimals), locale=_locale(locale))


def percent(value: float | None, decimals: int = 1, locale: str | None = None) -> str:
    """A rate on the 0-100 scale as a percentage, e.g. ``95,0 %`` (sv) or ``95.0%`` (en)."""
    if value is None or not math.isfinite(value):
        return _MISSING
    place = _locale(locale)
    return format_percent(
        value / 100, format=_with_decimals(place.percent_formats[None].pattern, decimals), locale=place
    )


def money(value: float | None, currency: str = "", decimals: int = 0, locale: str | None = None) -> str:
    """An amount with its ISO currency code, e.g. ``1 234 SEK`` (sv) or ``SEK 1,234`` (en); without a
    currency just the number."""
    if value is None or not math.isfinite(value):
        return _MISSING
    if not currency:
        return number(value, decimals, locale)
    place = _locale(locale)
    code_pattern = re.sub("\u00a4+", "\u00a4\u00a4", place.currency_formats["standard"].pattern)  # ¤¤: the ISO code
    pattern = _with_decimals(code_pattern.replace("\u00a4\u00a4#", "\u00a4\u00a4\u00a0#"), decimals)
    return format_currency(value, currency, format=pattern, locale=place, currency_digits=False)


def date(value: dt.date | dt.datetime | None, locale: str | None = None) -> str:
    """A calendar date: ISO 8601 in English, the locale's short form elsewhere (``01.07.2024`` in nb)."""
    if value is None:
        return _MISSING
    place = _locale(locale)
    day = value.date() if isinstance(value, dt.datetime) else value
    if place.language == "en":
        return day.isoformat()
    return format_date(day, format=_four_digit_year(place), locale=place)


def _four_digit_year(place: Locale) -> str:
    pattern = place.date_formats["short"].pattern
    return re.sub(r"y+", "y", pattern)  # CLDR "y" prints the whole year


def span(start: dt.date | dt.datetime, end: dt.date | dt.datetime, locale: str | None = None) -> str:
    """``start – end`` as dates."""
    return f"{date(start, locale)} – {date(end, locale)}"


def decimal_comma(locale: str | None = None) -> bool:
    """Whether the locale writes decimals with a comma (its CSV then uses ``;`` between fields)."""
    return _locale(locale).number_symbols["latn"]["decimal"] == ","


def plotly_separators(locale: str | None = None) -> str:
    """Plotly's ``separators`` (decimal mark, then thousands) for the locale."""
    symbols = _locale(locale).number_symbols["latn"]
    return symbols["decimal"] + symbols["group"]
