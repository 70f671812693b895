"""Purchase behaviour: the per-customer CLV summary, repeat purchases and purchase frequency.

Definitions (docs/definitions.md, "Purchases"). What a purchase is (an order, not a refund) is the rule
of :mod:`kvar.metrics.orders`; refunds reduce revenue but are never purchases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, cast

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import InputError, ParameterError
from kvar.i18n import tr
from kvar.metrics.calendar import (
    measured_periods,
    observed_range,
    place_in_periods,
)
from kvar.metrics.frames import exact_sum, table_of
from kvar.metrics.grid import fill_calendar, segment_of, sum_flags
from kvar.metrics.orders import orders, purchases
from kvar.metrics.periods import (
    DAYS_PER_UNIT,
    FIXED_UNITS,
    UNIT_PERIODS,
    check_unit,
    period_start,
    truncate,
    with_period_index,
)

Frequency = Literal["D", "W", "M"]


def _first_amount(buckets: nw.LazyFrame) -> tuple[nw.LazyFrame, nw.Expr]:
    """The buckets and the aggregation that gives each customer's first bucket's amount (a customer's
    buckets differ, so one is first): the amount ordered by bucket, in the same pass. Narwhals has no
    ordered ``first`` on Spark; there a window marks the first bucket (a join back would read the buckets
    again)."""
    if buckets.implementation.is_pyspark() or buckets.implementation.is_pyspark_connect():
        marked = buckets.with_columns(first_bucket=nw.col("bucket").min().over("customer_id")).with_columns(
            first_amount=nw.when(nw.col("bucket") == nw.col("first_bucket")).then(nw.col("amount"))
        )
        return marked.drop("first_bucket"), nw.col("first_amount").max()
    return buckets, nw.col("amount").first(order_by="bucket")


def customer_summary(
    transactions: IntoFrame,
    *,
    freq: Frequency = "D",
    unit: Frequency | None = None,
    calibration_end: str | dt.date | dt.datetime | None = None,
    observation_end: str | dt.date | dt.datetime | None = None,
) -> Any:
    """Per-customer frequency, recency, T and monetary value, as lifetimes' ``summary_data_from_transaction_data``.

    Purchases (:func:`kvar.metrics.orders.purchases`: orders, refunds left out) are bucketed into ``freq``
    periods (D day, W Monday-week, M month), summing amounts per bucket. For the calibration window (first transaction through ``calibration_end``, inclusive; default
    the last transaction's day):

    * ``frequency`` = buckets with a transaction - 1 (repeat purchases);
    * ``recency`` = last bucket - first bucket; ``T`` = calibration-end bucket - first bucket;
    * ``monetary_value`` = mean bucket amount over the repeat buckets (0 when frequency is 0).

    Durations are in ``unit`` (default ``freq``; D and W convert by 7). With an explicit ``calibration_end``
    the holdout ``(calibration_end, observation_end]`` adds ``frequency_holdout`` (buckets),
    ``monetary_value_holdout`` (mean bucket amount) and ``duration_holdout``. Customers first seen after
    the calibration end are left out, as in lifetimes.
    """
    check_unit(freq, "freq")
    unit = cast(Frequency, check_unit(unit or freq))
    if unit != freq and not (unit in FIXED_UNITS and freq in FIXED_UNITS):
        raise ParameterError(
            tr("unit {unit} cannot express durations counted in freq {freq}; use unit {freq}").format(
                unit=unit, freq=freq
            )
        )
    scale = DAYS_PER_UNIT[freq] / DAYS_PER_UNIT[unit] if unit != freq else 1.0
    facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at", "amount"])
    period = UNIT_PERIODS[freq]
    holdout = calibration_end is not None
    if calibration_end is not None and observation_end is not None:
        calibration, observation = _as_datetime(calibration_end), _as_datetime(observation_end)
    else:
        last = truncate(observed_range(facts, ["occurred_at"])[1], "day")
        calibration = _as_datetime(calibration_end) if calibration_end is not None else last
        observation = _as_datetime(observation_end) if observation_end is not None else last
    if holdout and observation <= calibration:
        raise ParameterError(
            tr("observation end {observation:%Y-%m-%d} must be after calibration end {calibration:%Y-%m-%d}").format(
                observation=observation, calibration=calibration
            )
        )
    calibration_index = _python_index(calibration, period)
    calibration_bucket = truncate(calibration, period)
    buckets = (
        purchases(facts)
        .with_columns(bucket=period_start("occurred_at", period))
        .group_by("customer_id", "bucket")
        .agg(exact_sum("amount", facts))
    )
    in_calibration, first_amount = _first_amount(buckets.filter(nw.col("bucket") <= nw.lit(calibration_bucket)))
    summary = in_calibration.group_by("customer_id").agg(
        first_bucket=nw.col("bucket").min(),
        last_bucket=nw.col("bucket").max(),
        buckets=nw.len(),
        total=exact_sum("amount", facts),
        first_amount=first_amount,
    )
    indexed = with_period_index(
        with_period_index(summary, "first_bucket", period, "first_index"), "last_bucket", period, "last_index"
    )
    result = indexed.select(
        "customer_id",
        frequency=nw.col("buckets") - 1,
        recency=(nw.col("last_index") - nw.col("first_index")).cast(nw.Float64) * scale,
        T=(calibration_index - nw.col("first_index")).cast(nw.Float64) * scale,
        monetary_value=nw.when(nw.col("buckets") > 1)
        .then((nw.col("total") - nw.col("first_amount")) / (nw.col("buckets") - 1).cast(nw.Float64))
        .otherwise(0.0),
    )
    if holdout:
        observation_index = _python_index(observation, period)
        later = (
            buckets.filter(
                nw.col("bucket") > nw.lit(calibration_bucket), nw.col("bucket") <= nw.lit(truncate(observation, period))
            )
            .group_by("customer_id")
            .agg(frequency_holdout=nw.len(), monetary_value_holdout=nw.col("amount").mean())
        )
        result = result.join(later, on="customer_id", how="left").with_columns(
            nw.col("frequency_holdout").fill_null(0),
            nw.col("monetary_value_holdout").fill_null(0.0),
            duration_holdout=nw.lit(float(observation_index - calibration_index) * scale),
        )
    return finish(result.sort("customer_id"))


def purchase_activity(
    transactions: IntoFrame,
    *,
    period: str = "month",
    by: str | None = None,
    customers: IntoFrame | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Per complete period: buyers, purchases, revenue, returning buyers and purchase frequency.

    Purchases are orders that are not refunds (:mod:`kvar.metrics.orders`).
    ``buyers``: customers with a purchase in the period; ``returning_buyers``: those whose first purchase
    was in an earlier period; ``returning_rate`` = returning / buyers * 100; ``purchase_frequency`` =
    purchases / buyers; ``average_order_value`` = purchase amount / purchases; ``revenue`` is net of refunds.
    """
    facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at", "amount"])
    periods, as_of = measured_periods(facts, ["occurred_at"], period, as_of)
    keys: tuple[str, ...] = (by,) if by else ()
    rows = orders(facts).with_columns(
        first_purchase=nw.when(nw.col("is_purchase")).then(nw.col("occurred_at")).min().over("customer_id")
    )
    if by:
        rows = rows.join(segment_of(facts, by, "occurred_at", customers), on="customer_id", how="left")
    placed = place_in_periods(rows, "occurred_at", periods, period)
    marked = placed.with_columns(
        is_purchase=nw.col("is_purchase").cast(nw.Int64),
        purchase_amount=nw.when(nw.col("is_purchase")).then(nw.col("amount")).otherwise(0.0),
        revenue=nw.col("amount"),
        returning=(nw.col("first_purchase") < nw.col("period_start")).cast(nw.Int64),
    )
    per_customer = marked.group_by(*keys, "period_start", "customer_id").agg(
        nw.col("is_purchase").sum().alias("purchases"),
        exact_sum("purchase_amount", facts),
        exact_sum("revenue", facts),
        nw.col("returning").max(),
    )
    buyer = nw.col("purchases") > 0
    counts = sum_flags(
        per_customer,
        (*keys, "period_start"),
        {"buyers": buyer, "returning_buyers": buyer & (nw.col("returning") == 1)},
    )
    totals = (
        per_customer.group_by(*keys, "period_start")
        .agg(nw.col("purchases").sum(), exact_sum("purchase_amount", facts), exact_sum("revenue", facts))
        .with_columns(nw.col("purchases").cast(nw.Int64))
    )
    sums = counts.join(totals, on=[*keys, "period_start"])
    filled = fill_calendar(
        sums, periods, rows, keys, ("buyers", "returning_buyers", "purchases", "purchase_amount", "revenue")
    )
    has_buyers = nw.col("buyers") > 0
    result = filled.with_columns(
        returning_rate=nw.when(has_buyers).then(
            nw.col("returning_buyers").cast(nw.Float64) * 100.0 / nw.col("buyers").cast(nw.Float64)
        ),
        purchase_frequency=nw.when(has_buyers).then(
            nw.col("purchases").cast(nw.Float64) / nw.col("buyers").cast(nw.Float64)
        ),
        average_order_value=nw.when(nw.col("purchases") > 0).then(
            nw.col("purchase_amount") / nw.col("purchases").cast(nw.Float64)
        ),
    )
    return finish(result)


def repeat_purchase_rate(transactions: IntoFrame, *, by: str | None = None, customers: IntoFrame | None = None) -> Any:
    """Share of customers who purchased more than once, over all the data.

    Columns: ``[by], customers, repeat_customers, repeat_purchase_rate`` (%), ``purchases``,
    ``purchase_frequency`` (purchases per customer). Customers are those with at least one purchase; a
    purchase is an order that is not a refund (:mod:`kvar.metrics.orders`), so the lines of one order
    count once.
    """
    facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at", "amount"])
    keys: tuple[str, ...] = (by,) if by else ()
    per_customer = purchases(facts).group_by("customer_id").agg(purchases=nw.len())
    if by:
        per_customer = per_customer.join(segment_of(facts, by, "occurred_at", customers), on="customer_id", how="left")
    marked = per_customer.with_columns(repeat=(nw.col("purchases") > 1).cast(nw.Int64), one=nw.lit(1, nw.Int64))
    aggregates = (
        nw.col("one").sum().alias("customers"),
        nw.col("repeat").sum().alias("repeat_customers"),
        nw.col("purchases").sum(),
    )
    summed = marked.group_by(*keys).agg(*aggregates).sort(*keys) if keys else marked.select(*aggregates)
    result = summed.with_columns(
        *(nw.col(name).cast(nw.Int64) for name in ("customers", "repeat_customers", "purchases"))
    ).with_columns(
        repeat_purchase_rate=nw.col("repeat_customers").cast(nw.Float64) * 100.0 / nw.col("customers").cast(nw.Float64),
        purchase_frequency=nw.col("purchases").cast(nw.Float64) / nw.col("customers").cast(nw.Float64),
    )
    return finish(result)


def _as_datetime(value: str | dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as error:
            raise ParameterError(tr("expected a date such as 1997-09-30, got {value!r}").format(value=value)) from error
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime(value.year, value.month, value.day)


def _python_index(value: dt.datetime, period: str) -> int:
    """The same integer :func:`kvar.metrics.periods.with_period_index` gives inside the engine."""
    days = (value.date() - dt.date(1970, 1, 1)).days
    if period == "day":
        return days
    if period == "week":
        return (days + 3) // 7
    if period == "month":
        return value.year * 12 + value.month - 1
    raise InputError(tr("unsupported period {period}").format(period=period))
