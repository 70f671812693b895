"""Calendars of complete periods, built once from the data's observed time range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import narwhals as nw

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.metrics.frames import frame_like, rows_of
from kvar.metrics.periods import (
    add_period,
    boundaries,
    check_period,
    period_start,
    truncate,
)


def observed_range(frame: nw.LazyFrame, columns: Sequence[str]) -> tuple[dt.datetime, dt.datetime]:
    """Earliest and latest non-null timestamp over ``columns`` (one small aggregate query)."""
    aggregates = [nw.col(name).min().alias(f"min_{name}") for name in columns]
    aggregates += [nw.col(name).max().alias(f"max_{name}") for name in columns]
    (row,) = rows_of(frame.select(*aggregates))
    lows = [row[f"min_{name}"] for name in columns if row[f"min_{name}"] is not None]
    highs = [row[f"max_{name}"] for name in columns if row[f"max_{name}"] is not None]
    if not lows:
        raise InputError(tr("no rows with a value in {columns}: nothing to measure").format(columns=", ".join(columns)))
    return min(lows), max(highs)


#: The subscription columns that say how far the data has been observed. ``ended_at`` is not one of them:
#: an end may be *scheduled* (paid through next year, cancel at period end), known but not yet observed,
#: so a table's last observed moment is its latest start, and later ends are not churn yet.
SUBSCRIPTION_OBSERVED = ("started_at",)


def observation(
    frame: nw.LazyFrame, columns: Sequence[str], as_of: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """``(first, as_of)``: the earliest observed time and the end of observation, by default the end of
    the last observed day (:func:`default_as_of`) over ``columns``."""
    first, last = observed_range(frame, columns)
    return first, as_of or default_as_of(last)


def scheduled_ends(subscriptions: nw.LazyFrame, as_of: dt.datetime) -> int:
    """How many subscription rows end after ``as_of``: scheduled ends, which are not churn yet."""
    (row,) = rows_of(subscriptions.filter(nw.col("ended_at") > nw.lit(as_of)).select(rows=nw.len()))
    return int(row["rows"])


def default_as_of(last_seen: dt.datetime) -> dt.datetime:
    """The end of the day of the latest observation: data are taken as complete through that day."""
    return truncate(last_seen, "day") + dt.timedelta(days=1)


def calendar(like: nw.LazyFrame, period: str, first: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    """Complete periods ``[period_start, period_end)`` from ``first``'s period through ``as_of``.

    Raises :class:`InputError` when not one complete period has been observed.
    """
    check_period(period)
    points = boundaries(first, as_of, period)
    if len(points) < 2:
        raise InputError(
            tr(
                "no complete {period} between {first:%Y-%m-%d} and {as_of:%Y-%m-%d}: the first {period} ends {first_end:%Y-%m-%d}. Hint: choose a shorter --period or pass a later --as-of."
            ).format(period=period, first=first, as_of=as_of, first_end=add_period(truncate(first, period), period))
        )
    return frame_like(
        like,
        {"period_start": points[:-1], "period_end": points[1:], "period_number": list(range(len(points) - 1))},
    )


def measured_periods(
    facts: nw.LazyFrame, time_columns: Sequence[str], period: str, as_of: dt.datetime | None
) -> tuple[nw.LazyFrame, dt.datetime]:
    """``(periods, as_of)``: the :func:`calendar` of complete periods a metric reports, from the first
    observed time of ``time_columns`` through the end of observation (:func:`observation`)."""
    first, as_of = observation(facts, time_columns, as_of)
    return calendar(facts, period, first, as_of), as_of


def trailing_windows(periods: nw.LazyFrame, window: str) -> nw.LazyFrame:
    """What is measured for each period of a :func:`calendar`: the period itself (``window="calendar"``) or
    the trailing ``N`` days ending where it ends (``"30d"``), as a ``window_start`` column; ``period_start``
    keeps naming the reporting period."""
    if window == "calendar":
        return periods.with_columns(window_start=nw.col("period_start"))
    return periods.with_columns(window_start=nw.col("period_end").dt.offset_by(f"-{window}"))


def place_in_periods(frame: nw.LazyFrame, time_column: str, periods: nw.LazyFrame, period: str) -> nw.LazyFrame:
    """Each row of ``frame`` with the calendar period ``[period_start, period_end)`` its ``time_column``
    falls in; rows outside the calendar (or with no time) are left out.

    The one way an event is placed in a period: the time is truncated to its period's start and matched on
    it (an equi-join, linear in the rows), never a cross join of rows with periods.
    """
    kind = frame.collect_schema()[time_column]
    calendar_days = periods.with_columns(nw.col("period_start").cast(kind))
    return frame.with_columns(period_start=period_start(time_column, period)).join(
        calendar_days, on="period_start", how="inner"
    )
