"""Periods, boundaries and day arithmetic, written as Narwhals expressions that run on every engine.

Conventions (see docs/definitions.md):

* All times are naive timestamps meaning UTC.
* A period is half-open, ``[period_start, period_end)``; weeks start on Monday, quarters in
  January/April/July/October.
* The *state at a boundary* ``P`` (customers "at the start" of the period beginning at ``P``, or "at the
  end" of the one ending there) is the state just before ``P``: an activity spell ``[s, e)`` counts at ``P``
  when ``s < P <= e``. An event at time ``t`` belongs to the period that contains ``t``.
"""

from __future__ import annotations

import datetime as dt
import re

import narwhals as nw

from kvar.errors import ParameterError
from kvar.i18n import tr

PERIODS = ("day", "week", "month", "quarter", "year")
#: Time units of the CLV models' inputs (frequency buckets, recency, T) and the calendar period each buckets by.
UNIT_PERIODS = {"D": "day", "W": "week", "M": "month"}
#: A unit's length in days. D and W are exact, so durations convert between them; M is the 30-day month
#: the CLV discounting steps by (calendar months vary, so no duration is converted into or out of M).
DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 30.0}
FIXED_UNITS = ("D", "W")
_TRUNCATE_EVERY = {"day": "1d", "month": "1mo", "quarter": "1q", "year": "1y"}
_OFFSET_EVERY = {"day": "1d", "week": "7d", "month": "1mo", "quarter": "3mo", "year": "1y"}
_WINDOW = re.compile(r"^\s*(\d+)\s*([dwmy]|mo)\s*$")
_WINDOW_UNITS = {"d": "d", "w": "d", "m": "mo", "mo": "mo", "y": "y"}


def check_unit(unit: str, name: str = "unit", allowed: tuple[str, ...] = tuple(UNIT_PERIODS)) -> str:
    """Return ``unit`` if it is one of ``allowed`` (D, W, M by default), else raise :class:`ParameterError` naming ``name``."""
    if unit not in allowed:
        raise ParameterError(
            tr("{name}: expected one of {units}, got {unit!r}").format(name=name, units=", ".join(allowed), unit=unit)
        )
    return unit


def check_period(period: str) -> str:
    """Return ``period`` if it is one of :data:`PERIODS`, else raise :class:`ParameterError`."""
    if period not in PERIODS:
        raise ParameterError(
            tr("period: expected one of {periods}, got {period!r}").format(periods=", ".join(PERIODS), period=period)
        )
    return period


def period_start(column: str, period: str) -> nw.Expr:
    """Start of the period containing each timestamp in ``column``."""
    check_period(period)
    if period != "week":
        return nw.col(column).dt.truncate(_TRUNCATE_EVERY[period])
    day = nw.col(column).dt.truncate("1d")
    weekday = nw.col(column).dt.weekday()  # 1 = Monday ... 7 = Sunday
    expr = nw.when(weekday == 1).then(day)
    for number in range(2, 7):
        expr = expr.when(weekday == number).then(day.dt.offset_by(f"-{number - 1}d"))
    # Sunday: Narwhals 2.29 on PySpark answers 0 instead of 7, so accept both.
    return expr.when(weekday.is_in([0, 7])).then(day.dt.offset_by("-6d"))


def with_period_index(frame: nw.LazyFrame, column: str, period: str, name: str) -> nw.LazyFrame:
    """Add ``name``: an integer that grows by one from each period to the next (months since year 0,
    days since 1970 …), so that differences of indices count whole periods (e.g. the cohort offset)."""
    check_period(period)
    col = nw.col(column)
    if period in ("day", "week"):
        framed = with_epoch_days(frame, column, name)
        if period == "week":  # 1970-01-01 was a Thursday; weeks start on Monday
            framed = framed.with_columns(((nw.col(name) + 3) // 7).alias(name))
        return framed
    year, month = col.dt.year().cast(nw.Int64), col.dt.month().cast(nw.Int64)
    if period == "month":
        return frame.with_columns((year * 12 + month - 1).alias(name))
    if period == "quarter":
        return frame.with_columns((year * 4 + (month - 1) // 3).alias(name))
    return frame.with_columns(year.alias(name))


def with_epoch_days(frame: nw.LazyFrame, column: str, name: str) -> nw.LazyFrame:
    """Add ``name``: whole days from 1970-01-01 to the calendar date of ``column`` (proleptic Gregorian).

    Built from the date's components (H. Hinnant's ``days_from_civil``) because engines disagree on
    datetime-to-integer casts and duration types, while integer arithmetic runs the same everywhere.
    Each step is its own column so that no engine sees a sub-expression repeated.
    """
    col = nw.col(column)
    step = f"_{name}_"
    staged = (
        frame.with_columns(**{f"{step}m": col.dt.month().cast(nw.Int64), f"{step}d": col.dt.day().cast(nw.Int64)})
        .with_columns(**{f"{step}y": col.dt.year().cast(nw.Int64) - (nw.col(f"{step}m") <= 2).cast(nw.Int64)})
        .with_columns(
            **{f"{step}era": (nw.col(f"{step}y") - nw.when(nw.col(f"{step}y") < 0).then(399).otherwise(0)) // 400}
        )
        .with_columns(**{f"{step}yoe": nw.col(f"{step}y") - nw.col(f"{step}era") * 400})
        .with_columns(**{f"{step}doy": (153 * ((nw.col(f"{step}m") + 9) % 12) + 2) // 5 + nw.col(f"{step}d") - 1})
        .with_columns(
            **{
                f"{step}doe": nw.col(f"{step}yoe") * 365
                + nw.col(f"{step}yoe") // 4
                - nw.col(f"{step}yoe") // 100
                + nw.col(f"{step}doy")
            }
        )
        .with_columns((nw.col(f"{step}era") * 146097 + nw.col(f"{step}doe") - 719468).alias(name))
    )
    return staged.drop(*(f"{step}{part}" for part in ("m", "d", "y", "era", "yoe", "doy", "doe")))


def window_offset(window: str) -> str:
    """Translate a user window such as ``90d``, ``12w``, ``3m`` or ``1y`` into a Narwhals offset string."""
    match = _WINDOW.match(window)
    if not match:
        raise ParameterError(
            tr("window: expected a number and a unit d, w, m or y (e.g. 90d, 12w, 3m), got {window!r}").format(
                window=window
            )
        )
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "w":
        amount *= 7
    return f"{amount}{_WINDOW_UNITS[unit]}"


def add_period(value: dt.datetime, period: str, count: int = 1) -> dt.datetime:
    """``value`` moved forward by ``count`` periods (Python side, for building calendars)."""
    check_period(period)
    if period == "day":
        return value + dt.timedelta(days=count)
    if period == "week":
        return value + dt.timedelta(weeks=count)
    months = {"month": 1, "quarter": 3, "year": 12}[period] * count
    month_index = value.year * 12 + value.month - 1 + months
    return value.replace(year=month_index // 12, month=month_index % 12 + 1)


def truncate(value: dt.datetime, period: str) -> dt.datetime:
    """Start of the period containing ``value`` (Python side)."""
    check_period(period)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    return day.replace(day=1, month=1)


def boundaries(first: dt.datetime, as_of: dt.datetime, period: str) -> list[dt.datetime]:
    """Period boundaries from the start of ``first``'s period up to the last boundary ``<= as_of``.

    Consecutive pairs are the complete periods ``[P_k, P_k+1)`` observed by ``as_of``.
    """
    points = [truncate(first, period)]
    while (following := add_period(points[-1], period)) <= as_of:
        points.append(following)
    return points
