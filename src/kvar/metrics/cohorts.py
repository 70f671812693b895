"""Cohort tables: how a signup cohort keeps buying (logo) and spending (revenue) over later periods.

Definitions (docs/definitions.md, "Cohorts"). A customer's cohort is the period of their first purchase
(an order that is not a refund, :mod:`kvar.metrics.orders`); customers who never purchased belong to no
cohort. For each cohort and ``period_offset`` ``k >= 0`` (``k`` periods after the cohort's own period):

* ``customers``: cohort members with at least one purchase in that period (refunds do not count);
* ``revenue``: the net amount (refunds subtract) of the cohort's transactions in that period;
* ``cohort_size``: customers of the cohort; ``percent`` = value / value at offset 0 * 100.

Offsets run up to the last complete period; gaps are reported as 0 so the matrix is rectangular.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import tr
from kvar.metrics.calendar import measured_periods
from kvar.metrics.frames import exact_sum, table_of
from kvar.metrics.grid import segment_of
from kvar.metrics.orders import orders
from kvar.metrics.periods import period_start, with_period_index

CohortValue = Literal["customers", "revenue"]


def cohort_table(
    transactions: IntoFrame,
    *,
    period: str = "month",
    value: CohortValue = "customers",
    by: str | None = None,
    customers: IntoFrame | None = None,
    as_of: dt.datetime | None = None,
    cumulative: bool = False,
) -> Any:
    """Long-format cohort matrix: ``[by], cohort, period_offset, cohort_size, value, percent``.

    ``value`` is ``customers`` (logo retention) or ``revenue``. With ``cumulative`` the revenue is summed
    over offsets ``0..k`` (historical lifetime value per cohort is ``value / cohort_size``).
    """
    if value not in ("customers", "revenue"):
        raise ParameterError(tr("value: expected customers or revenue, got {value!r}").format(value=value))
    facts, finish = table_of(
        transactions, "transactions", ["customer_id", "occurred_at"] + (["amount"] if value == "revenue" else [])
    )
    periods, as_of = measured_periods(facts, ["occurred_at"], period, as_of)
    keys: tuple[str, ...] = (by,) if by else ()
    bounded = (
        orders(facts)
        .join(
            periods.select(first_period=nw.col("period_start").min(), after_last=nw.col("period_end").max()),
            how="cross",
        )
        .filter(nw.col("occurred_at") < nw.col("after_last"))
    )
    spend = [exact_sum("amount", facts)] if value == "revenue" else []
    buckets = (
        bounded.with_columns(bucket=period_start("occurred_at", period), purchased=nw.col("is_purchase").cast(nw.Int64))
        .group_by("customer_id", "bucket")
        .agg(*spend, nw.col("purchased").max())
    )
    indexed = with_period_index(buckets, "bucket", period, "index")

    # each customer's cohort: the first period with a purchase (windows, not a second pass over the buckets)
    def first_purchase(column: str) -> nw.Expr:
        return nw.when(nw.col("purchased") == 1).then(nw.col(column)).min().over("customer_id")

    activity = (
        indexed.with_columns(cohort_index=first_purchase("index"), cohort=first_purchase("bucket"))
        .filter(~nw.col("cohort_index").is_null(), *([nw.col("purchased") == 1] if value == "customers" else []))
        .with_columns(period_offset=nw.col("index") - nw.col("cohort_index"))
    )
    if by:
        activity = activity.join(segment_of(facts, by, "occurred_at", customers), on="customer_id", how="left")
    measure = nw.len() if value == "customers" else nw.col("amount").sum()
    cells = (
        activity.group_by(*keys, "cohort", "period_offset")
        .agg(measure.alias("value"), nw.len().alias("customers"))
        .with_columns(nw.col("value").cast(nw.Float64))
    )
    # every (cohort, offset) up to the last period, from one read of the cells (the activity is
    # aggregated once): a cohort's offset-0 cell spans every offset (its size; 0 where nothing happened),
    # every other cell only its own offset
    last_index = with_period_index(periods, "period_start", period, "index").select(last_index=nw.col("index").max())
    offsets = periods.select(offset=nw.col("period_number").cast(nw.Int64))
    matrix = (
        with_period_index(cells, "cohort", period, "cohort_index")
        .join(last_index, how="cross")
        .join(offsets, how="cross")
        .filter(
            nw.col("cohort_index") + nw.col("offset") <= nw.col("last_index"),
            (nw.col("period_offset") == nw.col("offset")) | (nw.col("period_offset") == 0),
        )
        .with_columns(
            value=nw.when(nw.col("period_offset") == nw.col("offset")).then(nw.col("value")).otherwise(0.0),
            # a customer's first purchase period is one row of the activity: offset 0
            cohort_size=nw.when(nw.col("period_offset") == 0).then(nw.col("customers")).otherwise(0),
        )
        .group_by(*keys, "cohort", "offset")
        .agg(nw.col("value").sum(), nw.col("cohort_size").sum())
        .select(
            *keys, "cohort", period_offset="offset", cohort_size=nw.col("cohort_size").cast(nw.Int64), value="value"
        )
    )
    if cumulative:
        matrix = matrix.with_columns(value=nw.col("value").cum_sum().over(*keys, "cohort", order_by="period_offset"))
    base = nw.when(nw.col("period_offset") == 0).then(nw.col("value")).otherwise(0.0).sum().over(*keys, "cohort")
    result = matrix.select(
        *keys,
        "cohort",
        "period_offset",
        "cohort_size",
        "value",
        percent=nw.when(base != 0).then(nw.col("value") * 100.0 / base),
    ).sort(*keys, "cohort", "period_offset")
    if value == "customers":
        result = result.with_columns(nw.col("value").cast(nw.Int64))
    return finish(result)
