"""Customer counts and retention per period, for contractual and non-contractual businesses.

Definitions (docs/definitions.md, "Retention"): for each complete period ``[P, P')``

* ``customers_start``: customers active just before ``P``; ``customers_end``: active just before ``P'``;
* ``new_customers``: active at the end but not at the start: customers gained during the period, of which
  ``reactivated`` had been customers before (the rest are first-time customers);
* ``churned``: active at the start and not at the end; ``acquired``: first-ever activity in the period
  (including customers who lapsed again before its end);
* ``retention_rate = (customers_end - new_customers) / customers_start * 100``;
  ``churn_rate = churned / customers_start * 100``; both null when ``customers_start`` is 0.

Identity: ``customers_end = customers_start - churned + new_customers``, so retention + churn = 100.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import InputError, ParameterError
from kvar.i18n import tr
from kvar.metrics.activity import (
    ActivitySource,
    Boundary,
    activity_source,
    boundary_states,
    spells,
)
from kvar.metrics.calendar import measured_periods, observation
from kvar.metrics.definitions import Definition, as_definition, definition_counts
from kvar.metrics.frames import frame_like
from kvar.metrics.grid import fill_calendar, segment_of, sum_flags
from kvar.metrics.periods import add_period, truncate

COUNT_COLUMNS = ("customers_start", "new_customers", "reactivated", "churned", "customers_end", "acquired")


def retention_table(
    transactions: IntoFrame | None = None,
    subscriptions: IntoFrame | None = None,
    *,
    period: str = "month",
    by: str | None = None,
    customers: IntoFrame | None = None,
    inactivity: str = "90d",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
    boundary: Boundary = "before",
    definition: str | Definition | None = None,
) -> Any:
    """Customers at start, new, reactivated, churned, at end, retention and churn rate per period.

    Give ``transactions`` (non-contractual: active within ``inactivity`` of the last purchase) or
    ``subscriptions`` (contractual: active while an MRR interval covers the time, plus ``grace``).
    ``by`` names a customer attribute (a column of the same table, read on the customer's first row, or of
    ``customers``) to split every count by. ``as_of`` defaults to the end of the last observed day; only
    complete periods are reported. ``boundary`` says on which side of a period's first instant a customer
    who starts or ends exactly there is counted (:func:`kvar.metrics.activity.active_at`).

    ``definition`` names a churn definition (:data:`kvar.metrics.definitions.PRESETS`) or is one
    (:class:`~kvar.metrics.definitions.Definition`), subscriptions only: the table is read on its boundary
    side and gains ``definition_churned``, ``definition_base`` and ``definition_churn_rate`` (%), churn as
    that definition counts it (over its window and unit, per segment with ``by``).

    Returns a frame of the input's kind with columns ``[by], period_start, period_end`` and
    :data:`COUNT_COLUMNS`, ``retention_rate``, ``churn_rate`` (percent), sorted by segment and period.
    """
    counts = None
    if definition is not None:
        if subscriptions is None:
            raise ParameterError(tr("--definition: named churn definitions measure subscriptions"))
        chosen = as_definition(definition)
        boundary = chosen.boundary
        counts = definition_counts(
            subscriptions, chosen, period=period, grace=grace, as_of=as_of, by=by, customers=customers
        )
    source = activity_source(transactions, subscriptions, inactivity=inactivity, grace=grace)
    periods, as_of = measured_periods(source.facts, source.time_columns, period, as_of)
    table = retention_counts(source, periods, by=by, customers=customers, boundary=boundary)
    if counts is not None:
        base = nw.col("definition_base")
        table = (
            table.join(counts.drop("customers_start"), on=[*((by,) if by else ()), "period_start"], how="left")
            .with_columns(nw.col("definition_churned", "definition_base").fill_null(0).cast(nw.Int64))
            .with_columns(definition_churn_rate=nw.when(base > 0).then(nw.col("definition_churned") * 100.0 / base))
            .sort(*((by,) if by else ()), "period_start")
        )
    return source.finish(table)


def window_retention(
    transactions: IntoFrame | None = None,
    subscriptions: IntoFrame | None = None,
    *,
    months: int = 12,
    inactivity: str = "90d",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Retention over one window: the ``months`` months ending at the last month boundary by ``as_of``.

    The same definitions as every period of :func:`retention_table`, applied to the window itself:
    customers active at its start, of those still active at its end, ``(end - new) / start * 100``.
    Customers who lapse and come back inside the window count as retained, which chaining monthly
    rates would miss. Returns a one-row frame with the columns of :func:`retention_table`.
    """
    if months < 1:
        raise ParameterError(tr("months: expected at least 1, got {months}").format(months=months))
    source = activity_source(transactions, subscriptions, inactivity=inactivity, grace=grace)
    first, as_of = observation(source.facts, source.time_columns, as_of)
    end = truncate(as_of, "month")
    start = add_period(end, "month", -months)
    if start <= first:
        raise InputError(
            tr(
                "retention over {months} months needs data from before {start:%Y-%m-%d}; the data start {first:%Y-%m-%d}"
            ).format(months=months, start=start, first=first)
        )
    window = frame_like(source.facts, {"period_start": [start], "period_end": [end], "period_number": [0]})
    return source.finish(retention_counts(source, window))


def retention_counts(
    source: ActivitySource,
    periods: nw.LazyFrame,
    *,
    by: str | None = None,
    customers: IntoFrame | None = None,
    boundary: Boundary = "before",
) -> nw.LazyFrame:
    """The retention table of ``source`` over the periods of ``periods`` (``period_start``, ``period_end``)."""
    states, segment_keys = customer_period_states(source, periods, by=by, customers=customers, boundary=boundary)
    gained = (nw.col("at_end") == 1) & (nw.col("at_start") == 0)
    flags = {
        "customers_start": nw.col("at_start") == 1,
        "customers_end": nw.col("at_end") == 1,
        "new_customers": gained,
        "reactivated": gained & (nw.col("acquired") == 0),
        "churned": (nw.col("at_start") == 1) & (nw.col("at_end") == 0),
        "acquired": nw.col("acquired") == 1,
    }
    counts = sum_flags(states, (*segment_keys, "period_start"), flags)
    return with_rates(fill_calendar(counts, periods, states, segment_keys, COUNT_COLUMNS))


def customer_period_states(
    source: ActivitySource,
    periods: nw.LazyFrame,
    *,
    by: str | None,
    customers: IntoFrame | None,
    boundary: Boundary = "before",
) -> tuple[nw.LazyFrame, tuple[str, ...]]:
    """Per customer and period, the 0/1 flags ``at_start``, ``at_end``, ``acquired``.

    Returns ``(states, segment_keys)``: the states carry ``period_start``, ``period_end``,
    ``period_number`` and the segment column.
    """
    customer_spells = spells(source.intervals, equal_lengths=source.equal_lengths)
    segment_keys: tuple[str, ...] = ()
    if by:
        segments = segment_of(source.facts, by, source.first_seen_column, customers)
        customer_spells = customer_spells.join(segments, on="customer_id", how="left")
        segment_keys = (by,)
    states = boundary_states(customer_spells, periods, boundary).join(periods, on="period_start")
    return states, segment_keys


def with_rates(counts: nw.LazyFrame) -> nw.LazyFrame:
    """Add ``retention_rate`` and ``churn_rate`` in percent (null when nobody was there at the start)."""
    start = nw.col("customers_start").cast(nw.Float64)
    has_start = nw.col("customers_start") > 0
    return counts.with_columns(
        retention_rate=nw.when(has_start).then(
            (nw.col("customers_end") - nw.col("new_customers")).cast(nw.Float64) * 100.0 / start
        ),
        churn_rate=nw.when(has_start).then(nw.col("churned").cast(nw.Float64) * 100.0 / start),
    )


def retention_rate(customers_start: int, new_customers: int, customers_end: int) -> float:
    """The textbook formula on three numbers: ``(end - new) / start * 100``.

    >>> retention_rate(customers_start=1000, new_customers=200, customers_end=1150)
    95.0
    """
    if customers_start <= 0:
        raise ParameterError(
            tr("customers_start: expected > 0, got {customers_start}").format(customers_start=customers_start)
        )
    return (customers_end - new_customers) * 100.0 / customers_start
