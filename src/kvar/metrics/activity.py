"""When is a customer a customer? Activity spells for both business models.

A *spell* is a maximal half-open interval ``[spell_start, spell_end)`` during which a customer is active.

* Contractual (subscriptions): active while an MRR interval ``[started_at, ended_at)`` covers the time,
  extended by an optional grace period after ``ended_at``; an open interval (``ended_at`` null) never ends.
* Non-contractual (transactions): each purchase at ``t`` makes the customer active on ``[t, t + window)``
  (the inactivity window, e.g. 90 days). What a purchase is (an order, not a refund) is
  :mod:`kvar.metrics.orders`' rule.

Overlapping or touching intervals of one customer merge into one spell. A customer's ``acquired_at`` is the
start of their first spell.

Whether a customer is active at a boundary instant ``d`` (a period's start or end) is one rule,
:func:`active_at`, with the side of the instant as its parameter (docs/definitions.md, "State at a
boundary"):

* ``"before"`` (kvar's default): the state just before ``d``, ``start < d <= end``. A customer who starts
  exactly at ``d`` is new in the period starting at ``d``; one who ends exactly at ``d`` is still counted
  at ``d`` and churns in the period starting there.
* ``"at"`` (Fighting Churn with Data, ch. 2 listings): the state at the instant ``d``, ``start <= d < end``.
  A customer who starts exactly at ``d`` is already a start customer of the period starting at ``d``; one
  who ends exactly at ``d`` is gone at ``d``.

Which period an event at instant ``t`` falls in follows the same side (:func:`within_period`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal, cast

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import tr
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED
from kvar.metrics.frames import Finish, rows_of, table_of
from kvar.metrics.orders import purchases
from kvar.metrics.periods import window_offset

#: Stand-in for "no end yet" inside computations; never returned to the user.
OPEN_END = dt.datetime(2200, 1, 1)

Boundary = Literal["before", "at"]
BOUNDARIES: tuple[Boundary, ...] = ("before", "at")


def check_boundary(boundary: str) -> Boundary:
    """``boundary`` if it is one of :data:`BOUNDARIES`; :class:`ParameterError` otherwise."""
    if boundary not in BOUNDARIES:
        raise ParameterError(tr("boundary: expected before or at, got {boundary!r}").format(boundary=boundary))
    return cast(Boundary, boundary)


def active_at(start: nw.Expr, end: nw.Expr, instant: nw.Expr, boundary: Boundary = "before") -> nw.Expr:
    """Whether the interval ``[start, end)`` (an open end as :data:`OPEN_END`) counts as active at ``instant``:
    ``start < instant <= end`` on the ``"before"`` side, ``start <= instant < end`` on the ``"at"`` side."""
    if check_boundary(boundary) == "before":
        return (start < instant) & (end >= instant)
    return (start <= instant) & (end > instant)


def within_period(time: nw.Expr, period_start: nw.Expr, period_end: nw.Expr, boundary: Boundary = "before") -> nw.Expr:
    """Whether an event at ``time`` falls in the period: ``[start, end)`` on the ``"before"`` side (an event at
    exactly a boundary opens the next period), ``(start, end]`` on the ``"at"`` side."""
    if check_boundary(boundary) == "before":
        return (time >= period_start) & (time < period_end)
    return (time > period_start) & (time <= period_end)


def defining_table(has_transactions: bool, has_subscriptions: bool) -> Literal["transactions", "subscriptions"]:
    """Which fact table defines activity when a business has both: subscriptions (a contract says who is a
    customer), else transactions."""
    if not (has_transactions or has_subscriptions):
        raise ParameterError(tr("give --transactions FILE or --subscriptions FILE (or --workspace FILE)"))
    return "subscriptions" if has_subscriptions else "transactions"


@dataclass(frozen=True)
class ActivitySource:
    """The fact table that defines activity, its intervals, and which of its columns hold times."""

    facts: nw.LazyFrame
    finish: Finish
    intervals: nw.LazyFrame
    time_columns: tuple[str, ...]  # columns whose latest value is the last observed moment
    first_seen_column: str  # the column a customer's first row is read from (segments)
    equal_lengths: bool  # intervals of one fixed window (non-contractual)


def activity_source(
    transactions: IntoFrame | None = None,
    subscriptions: IntoFrame | None = None,
    *,
    inactivity: str,
    grace: str | None,
) -> ActivitySource:
    """Exactly one of ``transactions`` (non-contractual) or ``subscriptions`` (contractual), as intervals."""
    if (transactions is None) == (subscriptions is None):
        raise ParameterError(tr("give exactly one of transactions (non-contractual) or subscriptions (contractual)"))
    if transactions is not None:
        facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at"])
        return ActivitySource(
            facts,
            finish,
            intervals_from_transactions(purchases(facts), inactivity),
            ("occurred_at",),
            "occurred_at",
            True,
        )
    given = cast(IntoFrame, subscriptions)  # not None: exactly one of the two is given
    facts, finish = table_of(given, "subscriptions", ["customer_id", "started_at", "ended_at"])
    return ActivitySource(
        facts, finish, intervals_from_subscriptions(facts, grace), SUBSCRIPTION_OBSERVED, "started_at", False
    )


def intervals_from_transactions(
    transactions: nw.LazyFrame, inactivity: str, keep: tuple[str, ...] = ()
) -> nw.LazyFrame:
    """One interval ``[occurred_at, occurred_at + inactivity)`` per row (pass purchases, see
    :func:`kvar.metrics.orders.purchases`)."""
    offset = window_offset(inactivity)
    return transactions.select(
        "customer_id",
        *keep,
        start=nw.col("occurred_at"),
        end=nw.col("occurred_at").dt.offset_by(offset),
    )


def grace_end(ended_at: nw.Expr, grace: str | None) -> nw.Expr:
    """The grace rule: a subscription interval ending at ``ended_at`` keeps its customer active until
    ``ended_at + grace`` (e.g. ``14d``); an open end (null) stays open."""
    return ended_at.dt.offset_by(window_offset(grace)) if grace else ended_at


def intervals_from_subscriptions(
    subscriptions: nw.LazyFrame, grace: str | None = None, keep: tuple[str, ...] = ()
) -> nw.LazyFrame:
    """One interval per subscription row, ending at its :func:`grace_end`; open rows end at :data:`OPEN_END`."""
    return subscriptions.select(
        "customer_id",
        *keep,
        start=nw.col("started_at"),
        end=grace_end(nw.col("ended_at"), grace).fill_null(nw.lit(OPEN_END)),
    )


def spells(
    intervals: nw.LazyFrame, keys: tuple[str, ...] = ("customer_id",), *, equal_lengths: bool = False
) -> nw.LazyFrame:
    """Merge each customer's overlapping or touching intervals into spells.

    ``equal_lengths``: interval ends never decrease as starts increase (an inactivity window of fixed
    length), so a spell can be found from each interval's neighbours alone (:func:`_spells_of_windows`).

    Input columns: ``keys``, ``start``, ``end``. Output: ``keys``, ``spell_start``, ``spell_end``,
    ``acquired_at`` (the customer's first ``spell_start``).
    """
    part = list(keys)
    if equal_lengths:
        merged = _spells_of_windows(intervals, part)
    else:
        # One row per customer and start: starts are then unique within a customer, so every window below
        # has a total order and no result can depend on how an engine happened to order tied rows.
        distinct = intervals.group_by(*part, "start").agg(nw.col("end").max())
        reach = distinct.with_columns(reach=nw.col("end").cum_max().over(*part, order_by="start")).with_columns(
            previous_reach=nw.col("reach").shift(1).over(*part, order_by="start")
        )
        flagged = reach.with_columns(
            opens=(nw.col("previous_reach").is_null() | (nw.col("start") > nw.col("previous_reach"))).cast(nw.Int64)
        )
        numbered = flagged.with_columns(spell=nw.col("opens").cum_sum().over(*part, order_by="start"))
        merged = numbered.group_by(*part, "spell").agg(spell_start=nw.col("start").min(), spell_end=nw.col("end").max())
    return merged.select(*part, "spell_start", "spell_end", acquired_at=nw.col("spell_start").min().over(*part))


def _spells_of_windows(intervals: nw.LazyFrame, part: list[str]) -> nw.LazyFrame:
    """Spells of intervals whose ends grow with their starts: ``part``, ``spell_start``, ``spell_end``.

    An interval opens a spell when it starts after the previous interval's end, and closes one when the
    next interval starts after its own end (one window pass over every interval, both neighbours from one
    ordering). Only the opening and closing intervals are kept, one row per start (intervals with equal
    starts are equal, and whichever of them an engine ordered first, the one row says whether any opened
    or closed); then a spell ends where its opening interval does when that one closes it, otherwise at
    the next kept row, its closing interval.
    """
    ordered = {"order_by": "start"}
    neighbours = intervals.with_columns(
        previous_end=nw.col("end").shift(1).over(*part, **ordered),
        next_start=nw.col("start").shift(-1).over(*part, **ordered),
    )
    opens = nw.col("previous_end").is_null() | (nw.col("start") > nw.col("previous_end"))
    closes = nw.col("next_start").is_null() | (nw.col("next_start") > nw.col("end"))
    edges = (
        neighbours.with_columns(opens=opens, closes=closes)
        .filter(nw.col("opens") | nw.col("closes"))
        .group_by(*part, "start")
        .agg(nw.col("end").max(), nw.col("opens").max(), nw.col("closes").max())
    )
    paired = edges.with_columns(following_end=nw.col("end").shift(-1).over(*part, **ordered))
    return paired.filter(nw.col("opens")).select(
        *part,
        spell_start="start",
        spell_end=nw.when(nw.col("closes")).then(nw.col("end")).otherwise(nw.col("following_end")),
    )


def first_attribute(frame: nw.LazyFrame, column: str, time_column: str) -> nw.LazyFrame:
    """Each customer's value of ``column`` on their earliest row (smallest value on a tie).

    This is how a segment is read off a fact table: a customer belongs to the channel, country or plan
    they had when first seen.
    """
    earliest = frame.filter(nw.col(time_column) == nw.col(time_column).min().over("customer_id"))
    return earliest.group_by("customer_id").agg(nw.col(column).min())


def touching_periods(
    customer_spells: nw.LazyFrame, calendar: nw.LazyFrame, start: str = "period_start"
) -> nw.LazyFrame:
    """Each spell with each calendar period it touches, boundary instants included (the rows whatever the
    boundary side; :func:`active_at` then reads the side). A period runs from its ``start`` column (a
    trailing window's ``window_start``, say) to ``period_end``."""
    return customer_spells.join(calendar, how="cross").filter(
        nw.col("spell_start") <= nw.col("period_end"), nw.col("spell_end") >= nw.col(start)
    )


def boundary_states(
    customer_spells: nw.LazyFrame, calendar: nw.LazyFrame, boundary: Boundary = "before"
) -> nw.LazyFrame:
    """Per customer and period: active at the start, at the end (:func:`active_at` on ``boundary``'s side),
    and acquired within the period (:func:`within_period`).

    ``calendar`` has ``period_start`` and ``period_end``. Only customers whose spells touch the period
    (boundaries included) appear. Columns: ``customer_id``, ``period_start``, ``at_start``, ``at_end``,
    ``acquired`` (Int64 0/1), plus any extra columns of ``customer_spells`` that are constant per customer
    (segments).

    A customer's flags are the largest over the spells touching the period. Most spells are the only one of
    their customer in each period they touch (:func:`_sharing_periods`), and their flags are the
    customer's as they are; only the others are grouped. Spark computes each branch of a plan again (the
    spells twice), so there every row is grouped: one grouping costs it less than a second reading.
    """
    extra = [
        name
        for name in customer_spells.collect_schema().names()
        if name not in {"customer_id", "spell_start", "spell_end", "acquired_at"}
    ]
    impl = customer_spells.implementation
    split = not (impl.is_pyspark() or impl.is_pyspark_connect())
    marked = (
        _sharing_periods(customer_spells, calendar)
        if split
        else customer_spells.with_columns(shares_periods=nw.lit(True))
    )
    joined = touching_periods(marked, calendar)
    start, end = nw.col("spell_start"), nw.col("spell_end")
    flags = joined.select(
        "customer_id",
        *extra,
        "period_start",
        "shares_periods",
        at_start=active_at(start, end, nw.col("period_start"), boundary).cast(nw.Int64),
        at_end=active_at(start, end, nw.col("period_end"), boundary).cast(nw.Int64),
        acquired=within_period(nw.col("acquired_at"), nw.col("period_start"), nw.col("period_end"), boundary).cast(
            nw.Int64
        ),
    )
    columns = ["customer_id", *extra, "period_start", "at_start", "at_end", "acquired"]
    shared = (
        flags.filter(nw.col("shares_periods"))
        .group_by("customer_id", *extra, "period_start")
        .agg(nw.col("at_start").max(), nw.col("at_end").max(), nw.col("acquired").max())
        .select(columns)
    )
    if not split:
        return shared
    return nw.concat([flags.filter(~nw.col("shares_periods")).select(columns), shared], how="vertical")


def _sharing_periods(customer_spells: nw.LazyFrame, calendar: nw.LazyFrame) -> nw.LazyFrame:
    """``customer_spells`` with ``shares_periods``: whether the spell may touch a calendar period that
    another spell of its customer touches too.

    A period touched by two spells reaches from the earlier one's end to the later one's start, so it is
    at least as long as the gap between them, and every spell in between is as close to its neighbours.
    A spell whose gaps to the previous and the next spell of its customer are both longer than the
    calendar's longest period is therefore alone in every period it touches.
    """
    longest = max(
        (row["period_end"] - row["period_start"] for row in rows_of(calendar.select("period_start", "period_end"))),
        default=dt.timedelta(0),
    )
    reach = f"{math.ceil(longest / dt.timedelta(days=1))}d"  # whole days, rounded up: never too short
    ordered = {"order_by": "spell_start"}
    previous_end = nw.col("spell_end").shift(1).over("customer_id", **ordered)
    next_start = nw.col("spell_start").shift(-1).over("customer_id", **ordered)
    near = (nw.col("spell_start") <= previous_end.dt.offset_by(reach)) | (
        next_start <= nw.col("spell_end").dt.offset_by(reach)
    )
    return customer_spells.with_columns(shares_periods=near.fill_null(False))
