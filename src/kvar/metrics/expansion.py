"""Expansion potential: customers who look ready for a bigger plan or more seats.

On the latest observation date of :func:`~kvar.metrics.churn_features.churn_features` (customers active
then), plans are ordered by their median MRR. A customer shows expansion potential when either

* **high usage on a low plan**: they are not on the top plan and their events in the last 30 days reach the
  median of customers on the plans above theirs; or
* **seats near the limit**: their subscription has a seat count (``quantity``) and the distinct active users
  of the last 30 days fill at least ``seat_share`` (default 90 %) of it.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from kvar.metrics.activity import active_at, intervals_from_subscriptions
from kvar.metrics.frames import as_lazy, frame_like, rows_of, table_of


def expansion_potential(features: Any, subscriptions: Any, *, seat_share: float = 0.9) -> Any:
    """One row per customer at the latest observation date of ``features``, with the two signals and
    ``expansion_potential``, in the features' kind of frame; customers with potential first, then by usage.

    Columns: ``customer_id``, ``plan``, ``mrr``, ``events_30d``, ``higher_plans_median_events`` (null on the
    top plan), ``seats`` (null without a seat count), ``users_30d``, ``high_usage_on_low_plan``,
    ``seats_near_limit``, ``expansion_potential``.
    """
    table, finish = table_of(
        features, "churn features", ["customer_id", "observed_at", "plan", "mrr", "events_30d", "users_30d"]
    )
    current = table.filter(nw.col("observed_at") == nw.col("observed_at").max())
    # Plans are few: their order (median MRR, then name, so that ties cannot depend on the engine) is read out.
    medians = rows_of(current.group_by("plan").agg(plan_mrr=nw.col("mrr").median()))
    order = sorted(medians, key=lambda row: (row["plan_mrr"], row["plan"]))
    ranks = frame_like(current, {"plan": [row["plan"] for row in order], "plan_rank": list(range(len(order)))})
    ranked = current.join(ranks, on="plan")
    higher = (
        ranks.select("plan", own_rank="plan_rank")
        .join(ranked.select("events_30d", "plan_rank"), how="cross")
        .filter(nw.col("plan_rank") > nw.col("own_rank"))
        .group_by("plan")
        .agg(higher_plans_median_events=nw.col("events_30d").median())
    )
    scored = ranked.join(higher, on="plan", how="left").join(
        _seats(subscriptions, current), on="customer_id", how="left"
    )
    benchmark, seats = nw.col("higher_plans_median_events"), nw.col("seats")
    signals = scored.with_columns(
        high_usage_on_low_plan=(~benchmark.is_null() & (benchmark > 0) & (nw.col("events_30d") >= benchmark)),
        seats_near_limit=(~seats.is_null() & (seats > 0) & (nw.col("users_30d") >= seat_share * seats)),
    ).with_columns(
        high_usage_on_low_plan=nw.col("high_usage_on_low_plan").fill_null(False),
        seats_near_limit=nw.col("seats_near_limit").fill_null(False),
    )
    result = signals.select(
        "customer_id",
        "plan",
        "mrr",
        "events_30d",
        "higher_plans_median_events",
        "seats",
        "users_30d",
        "high_usage_on_low_plan",
        "seats_near_limit",
        expansion_potential=nw.col("high_usage_on_low_plan") | nw.col("seats_near_limit"),
    )
    return finish(result.sort(["expansion_potential", "events_30d", "customer_id"], descending=[True, True, False]))


def _seats(subscriptions: Any, current: nw.LazyFrame) -> nw.LazyFrame:
    """``customer_id``, ``seats``: the seat count (``quantity``) of each customer's subscriptions active at the
    observation date (:func:`~kvar.metrics.activity.active_at`); no rows when the table has no seat counts.
    ``subscriptions`` lives in the same engine as the features (it is the table they were built from)."""
    subs, _ = as_lazy(subscriptions)
    if "quantity" not in subs.collect_schema().names():
        return frame_like(current, {"customer_id": [""], "seats": [0.0]}).head(0)
    (latest,) = rows_of(current.select(nw.col("observed_at").max()))
    intervals = intervals_from_subscriptions(subs, keep=("quantity",))
    return (
        intervals.filter(
            active_at(nw.col("start"), nw.col("end"), nw.lit(latest["observed_at"])), ~nw.col("quantity").is_null()
        )
        .group_by("customer_id")
        .agg(seats=nw.col("quantity").cast(nw.Float64).sum())
    )
