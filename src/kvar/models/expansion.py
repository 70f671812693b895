"""Expansion potential: customers who look ready for a bigger plan or more seats.

On the latest observation date of :func:`~kvar.models.churn_features.churn_features` (customers active
then), plans are ordered by their median MRR. A customer shows expansion potential when either

* **high usage on a low plan**: they are not on the top plan and their events in the last 30 days reach the
  median of customers on the plans above theirs; or
* **seats near the limit**: their subscription has a seat count (``quantity``) and the distinct active users
  of the last 30 days fill at least ``seat_share`` (default 90 %) of it.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from kvar.metrics.activity import OPEN_END, active_at
from kvar.metrics.frames import as_lazy, rows_of


def expansion_potential(features: Any, subscriptions: Any, *, seat_share: float = 0.9) -> list[dict[str, Any]]:
    """One row per customer at the latest observation date, with the two signals and ``expansion_potential``."""
    table = features[features["observed_at"] == features["observed_at"].max()]
    observed_at = table["observed_at"].iloc[0].to_pydatetime()
    subs, _ = as_lazy(subscriptions)
    seats: dict[str, float] = {}
    if "quantity" in subs.collect_schema().names():
        current = (
            subs.filter(
                active_at(nw.col("started_at"), nw.col("ended_at").fill_null(nw.lit(OPEN_END)), nw.lit(observed_at))
            )
            .group_by("customer_id")
            .agg(nw.col("quantity").cast(nw.Float64).sum())
        )
        seats = {row["customer_id"]: row["quantity"] for row in rows_of(current) if row["quantity"] is not None}
    plan_mrr = table.groupby("plan")["mrr"].median().sort_values()
    rank = {plan: index for index, plan in enumerate(plan_mrr.index)}
    top = len(rank) - 1
    higher_usage = {
        plan: float(table[table["plan"].map(rank) > rank[plan]]["events_30d"].median()) if rank[plan] < top else None
        for plan in rank
    }
    rows = []
    for record in table.to_dict("records"):
        benchmark = higher_usage[record["plan"]]
        high_usage = benchmark is not None and record["events_30d"] >= benchmark > 0
        seat_count = seats.get(record["customer_id"])
        near_limit = seat_count is not None and seat_count > 0 and record["users_30d"] >= seat_share * seat_count
        rows.append(
            {
                "customer_id": record["customer_id"],
                "plan": record["plan"],
                "mrr": record["mrr"],
                "events_30d": record["events_30d"],
                "higher_plans_median_events": benchmark,
                "seats": seat_count,
                "users_30d": record["users_30d"],
                "high_usage_on_low_plan": bool(high_usage),
                "seats_near_limit": bool(near_limit),
                "expansion_potential": bool(high_usage or near_limit),
            }
        )
    return sorted(rows, key=lambda row: (not row["expansion_potential"], -row["events_30d"]))
