"""Recurring revenue: MRR, ARR, MRR movements, gross and net revenue retention, ARPA.

Definitions (docs/definitions.md, "Recurring revenue"). A subscription row is an MRR interval
``[started_at, ended_at)`` with a monthly amount ``mrr`` (one currency). A customer's MRR at a boundary
``P`` is the sum of ``mrr`` over their intervals with ``started_at < P <= ended_at`` (open: no end). For a
period ``[P, P')`` with ``m0`` = MRR at ``P`` and ``m1`` = MRR at ``P'``, each customer's change is one
movement:

==============  =================================================  ===========
movement        condition                                          amount
==============  =================================================  ===========
new             m0 = 0 < m1, first paid interval starts in period  m1
reactivation    m0 = 0 < m1, paid before                           m1
expansion       0 < m0 < m1                                        m1 - m0
contraction     0 < m1 < m0                                        m1 - m0 (< 0)
churn           m0 > 0 = m1                                        -m0
==============  =================================================  ===========

so ``mrr_start + new + reactivation + expansion + contraction + churn = mrr_end`` exactly.
GRR = (mrr_start + contraction + churn) / mrr_start * 100; NRR adds expansion; revenue churn rate =
-(contraction + churn) / mrr_start * 100; ARPA = mrr_end / paying customers at the end; ARR = 12 * MRR.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.activity import OPEN_END, Boundary, active_at, within_period
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, measured_periods, trailing_windows
from kvar.metrics.frames import exact_sum, table_of
from kvar.metrics.grid import fill_calendar, segment_of

MOVEMENTS = ("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr")
_SUMS = ("mrr_start", "mrr_end", *MOVEMENTS)
_COUNTS = ("paying_start", "paying_end", "new_paying", "expanded", "contracted", "churned_paying", "reactivated_paying")


def customer_mrr_changes(
    subscriptions: nw.LazyFrame,
    periods: nw.LazyFrame,
    segment: nw.LazyFrame | None = None,
    boundary: Boundary = "before",
) -> nw.LazyFrame:
    """Per customer and period: ``m0`` (MRR at the start), ``m1`` (at the end), both read with
    :func:`~kvar.metrics.activity.active_at` on ``boundary``'s side, and ``first_paid_at``."""
    paid = subscriptions.with_columns(
        first_paid_at=nw.when(nw.col("mrr") > 0).then(nw.col("started_at")).min().over("customer_id"),
        ended_at=nw.col("ended_at").fill_null(nw.lit(OPEN_END)),
    )
    touching = paid.join(periods, how="cross").filter(
        nw.col("started_at") <= nw.col("period_end"), nw.col("ended_at") >= nw.col("period_start")
    )
    mrr = nw.col("mrr").cast(nw.Float64)
    started, ended = nw.col("started_at"), nw.col("ended_at")
    at_start = active_at(started, ended, nw.col("period_start"), boundary)
    at_end = active_at(started, ended, nw.col("period_end"), boundary)
    changes = (
        touching.with_columns(
            m0=nw.when(at_start).then(mrr).otherwise(0.0), m1=nw.when(at_end).then(mrr).otherwise(0.0)
        )
        .group_by("customer_id", "period_start")
        .agg(exact_sum("m0", subscriptions), exact_sum("m1", subscriptions), nw.col("first_paid_at").min())
    )
    if segment is not None:
        changes = changes.join(segment, on="customer_id", how="left")
    return changes


def mrr_movements(
    subscriptions: IntoFrame,
    *,
    period: str = "month",
    by: str | None = None,
    customers: IntoFrame | None = None,
    as_of: dt.datetime | None = None,
    boundary: Boundary = "before",
    window: str = "calendar",
) -> Any:
    """MRR at the start and end of each complete period, its movements and the revenue KPIs.

    ``boundary``: on which side of a period's first instant an interval starting or ending exactly there
    counts (:func:`kvar.metrics.activity.active_at`). ``window``: ``calendar`` measures each period from
    its start to its end; ``30d`` (any number of days) measures the trailing 30 days ending where the period
    ends, and adds a ``window_start`` column (:func:`kvar.metrics.calendar.trailing_windows`).

    Columns: ``[by], period_start, period_end, mrr_start, new_mrr, expansion_mrr, contraction_mrr,
    churned_mrr, reactivation_mrr, mrr_end, net_new_mrr, arr_end``, customer counts per movement
    (``paying_start, paying_end, new_paying, expanded, contracted, churned_paying, reactivated_paying``),
    ``arpa``, ``grr``, ``nrr``, ``revenue_churn_rate``, ``expansion_customer_share`` (expanded / paying at
    start, %) and ``expansion_revenue_share`` (expansion MRR / MRR at end, %).
    """
    subs, finish = table_of(subscriptions, "subscriptions", ["customer_id", "started_at", "ended_at", "mrr"])
    calendar, as_of = measured_periods(subs, SUBSCRIPTION_OBSERVED, period, as_of)
    windows = trailing_windows(calendar, window)
    # Measured from each window's start: the period_start of the computation is the window's.
    periods = windows.select("period_end", "period_number", period_start=nw.col("window_start"))
    segment = segment_of(subs, by, "started_at", customers) if by else None
    keys = (by,) if by else ()
    changes = customer_mrr_changes(subs, periods, segment, boundary)
    m0, m1 = nw.col("m0"), nw.col("m1")
    first_time = within_period(nw.col("first_paid_at"), nw.col("period_start"), nw.lit(OPEN_END), boundary)
    is_new = (m0 == 0) & (m1 > 0) & first_time
    is_back = (m0 == 0) & (m1 > 0) & ~first_time
    grew = (m0 > 0) & (m1 > m0)
    shrank = (m1 > 0) & (m1 < m0)
    lost = (m0 > 0) & (m1 == 0)
    delta = m1 - m0
    amounts = {
        "new_mrr": nw.when(is_new).then(m1),
        "expansion_mrr": nw.when(grew).then(delta),
        "contraction_mrr": nw.when(shrank).then(delta),
        "churned_mrr": nw.when(lost).then(-m0),
        "reactivation_mrr": nw.when(is_back).then(m1),
    }
    flags = {
        "paying_start": m0 > 0,
        "paying_end": m1 > 0,
        "new_paying": is_new,
        "expanded": grew,
        "contracted": shrank,
        "churned_paying": lost,
        "reactivated_paying": is_back,
    }
    classified = changes.with_columns(
        **{name: amount.otherwise(0.0) for name, amount in amounts.items()},
        **{name: flag.cast(nw.Int64) for name, flag in flags.items()},
    )
    sums = (
        classified.group_by(*keys, "period_start")
        .agg(
            exact_sum("m0", subs).alias("mrr_start"),
            exact_sum("m1", subs).alias("mrr_end"),
            *(exact_sum(name, subs) for name in amounts),
            *(nw.col(name).sum() for name in flags),
        )
        .with_columns(*(nw.col(name).cast(nw.Int64) for name in flags))
    )
    filled = with_revenue_kpis(fill_calendar(sums, periods, changes, keys, _SUMS + _COUNTS))
    if window == "calendar":
        return finish(filled)
    names = filled.collect_schema().names()
    labelled = filled.rename({"period_start": "window_start"}).join(
        calendar.select("period_start", "period_end"), on="period_end"
    )
    order = [
        *keys,
        "period_start",
        "period_end",
        "window_start",
        *(n for n in names if n not in {*keys, "period_start", "period_end"}),
    ]
    return finish(labelled.select(*order).sort(*keys, "period_start"))


def with_revenue_kpis(sums: nw.LazyFrame) -> nw.LazyFrame:
    """Add net new MRR, ARR, ARPA, GRR, NRR, revenue churn and expansion shares (percent)."""
    start, end = nw.col("mrr_start"), nw.col("mrr_end")
    lost = nw.col("contraction_mrr") + nw.col("churned_mrr")
    has_start = start > 0
    return sums.with_columns(
        net_new_mrr=end - start,
        arr_end=end * 12.0,
        arpa=nw.when(nw.col("paying_end") > 0).then(end / nw.col("paying_end").cast(nw.Float64)),
        grr=nw.when(has_start).then((start + lost) * 100.0 / start),
        nrr=nw.when(has_start).then((start + lost + nw.col("expansion_mrr")) * 100.0 / start),
        revenue_churn_rate=nw.when(has_start).then(-lost * 100.0 / start),
        expansion_customer_share=nw.when(nw.col("paying_start") > 0).then(
            nw.col("expanded").cast(nw.Float64) * 100.0 / nw.col("paying_start").cast(nw.Float64)
        ),
        expansion_revenue_share=nw.when(end > 0).then(nw.col("expansion_mrr") * 100.0 / end),
    )
