"""What customers are worth: Pareto concentration, historical lifetime value, unit economics.

Definitions (docs/definitions.md, "Value").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import tr
from kvar.metrics.frames import as_lazy, exact_sum, frame_like, table_of
from kvar.metrics.grid import segment_of
from kvar.metrics.periods import check_period, period_start
from kvar.metrics.retention import retention_table
from kvar.metrics.revenue import mrr_movements


def pareto_concentration(transactions: IntoFrame, *, shares: Sequence[float] = (0.1, 0.2)) -> Any:
    """Share of net revenue earned by the top ``share`` of customers, for each share.

    Customers are everyone with a transaction, ranked by net revenue (refunds subtracted), highest first;
    the top group holds ``ceil(share * customers)`` customers (ties in revenue do not change the sum).
    Columns: ``top_customers_share`` (% of customers, e.g. 20.0), ``top_customers``, ``customers``,
    ``top_revenue``, ``revenue``, ``revenue_share`` (% of revenue). ``shares`` are given as fractions.
    """
    for share in shares:
        if not 0 < share <= 1:
            raise ParameterError(tr("shares: expected fractions in (0, 1], got {share}").format(share=share))
    facts, finish = table_of(transactions, "transactions", ["customer_id", "amount"])
    # one pass: each customer's revenue, rank, and (over all customers) their count and total revenue
    ranked = (
        facts.with_columns(nw.col("amount").cast(nw.Float64))
        .group_by("customer_id")
        .agg(revenue=exact_sum("amount", facts))
        .with_columns(_all=nw.lit(1))
        .with_columns(
            rank=nw.col("revenue").rank("ordinal", descending=True),
            customers=nw.len().over("_all"),
            total=exact_sum("revenue", facts).over("_all"),
        )
    )
    groups = frame_like(
        facts,
        {
            "top_customers_share": [round(float(share) * 100.0, 9) for share in shares],
            "_share": list(map(float, shares)),
        },
    )
    top = (
        ranked.join(groups, how="cross")
        .with_columns(  # ceil(share x customers), at least one customer
            top_customers=(nw.col("_share") * nw.col("customers")).round(9).ceil().clip(lower_bound=1).cast(nw.Int64)
        )
        .filter(nw.col("rank") <= nw.col("top_customers"))
    )
    result = top.group_by("top_customers_share", "top_customers").agg(
        top_revenue=exact_sum("revenue", facts),
        customers=nw.col("customers").max(),
        revenue=nw.col("total").max(),
    )
    result = result.with_columns(
        customers=nw.col("customers").cast(nw.Int64),
        revenue_share=nw.when(nw.col("revenue") != 0).then(nw.col("top_revenue") * (100.0 / nw.col("revenue"))),
    )
    return finish(result.sort("top_customers_share"))


def historical_ltv(
    transactions: IntoFrame,
    *,
    period: str = "month",
    by: str | None = None,
    customers: IntoFrame | None = None,
) -> Any:
    """Average net revenue per customer to date, by acquisition cohort (period of first transaction).

    Columns: ``[by], cohort, customers, revenue, historical_ltv`` (= revenue / customers), plus an overall
    row with ``cohort`` null. Historical LTV is what customers *have* paid, not a prediction.
    """
    check_period(period)
    facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at", "amount"])
    keys: tuple[str, ...] = (by,) if by else ()
    per_customer = (
        facts.with_columns(nw.col("amount").cast(nw.Float64))
        .group_by("customer_id")
        .agg(first_seen=nw.col("occurred_at").min(), revenue=nw.col("amount").sum())
        .with_columns(cohort=period_start("first_seen", period))
    )
    if by:
        per_customer = per_customer.join(segment_of(facts, by, "occurred_at", customers), on="customer_id", how="left")
    aggregates = dict(customers=nw.len(), revenue=nw.col("revenue").sum())
    by_cohort = per_customer.group_by(*keys, "cohort").agg(**aggregates)
    overall = per_customer.group_by(*keys).agg(**aggregates) if keys else per_customer.select(**aggregates)
    overall = overall.with_columns(cohort=nw.lit(None, by_cohort.collect_schema()["cohort"]))
    result = nw.concat([by_cohort, overall.select(by_cohort.collect_schema().names())], how="vertical")
    result = result.with_columns(historical_ltv=nw.col("revenue") / nw.col("customers").cast(nw.Float64)).sort(
        *keys, "cohort", nulls_last=True
    )
    return finish(result)


def unit_economics(
    subscriptions: IntoFrame,
    *,
    period: str = "month",
    gross_margin: float = 1.0,
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """ARPA, customer churn rate, average customer lifetime and lifetime value per complete period.

    ``average_lifetime`` (in periods) = 100 / ``churn_rate``; ``ltv`` = ``arpa`` * ``gross_margin`` *
    ``average_lifetime`` (the steady-state formula ARPA x margin / churn). Both are null when nobody churned.
    """
    if not 0 < gross_margin <= 1:
        raise ParameterError(
            tr("gross_margin: expected a fraction in (0, 1], got {gross_margin}").format(gross_margin=gross_margin)
        )
    subs, finish = as_lazy(subscriptions)
    retention, _ = as_lazy(retention_table(subscriptions=subs.to_native(), period=period, grace=grace, as_of=as_of))
    revenue, _ = as_lazy(mrr_movements(subs.to_native(), period=period, as_of=as_of))
    joined = retention.select("period_start", "period_end", "churn_rate", "customers_end").join(
        revenue.select("period_start", "mrr_end", "paying_end", "arpa"), on="period_start"
    )
    lifetime = nw.when(nw.col("churn_rate") > 0).then(100.0 / nw.col("churn_rate"))
    result = joined.with_columns(average_lifetime=lifetime).with_columns(
        ltv=nw.col("arpa") * gross_margin * nw.col("average_lifetime")
    )
    return finish(result.sort("period_start"))
