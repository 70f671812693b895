"""Voluntary vs involuntary churn: did a customer leave, or did their payments fail?

Definition (docs/definitions.md, "Voluntary and involuntary churn"). A churn is the end of a contractual
activity spell before ``as_of`` (subscriptions, with the optional grace period). It is **involuntary**
when the customer had at least one failed payment attempt in the ``window`` (default 30 days) before the
spell ended and no successful one after their last failure; otherwise **voluntary**. ``mrr_lost`` is the
MRR of the intervals that ended with the spell. Reported per complete period of the churn date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.activity import (
    OPEN_END,
    grace_end,
    intervals_from_subscriptions,
    spells,
)
from kvar.metrics.calendar import (
    SUBSCRIPTION_OBSERVED,
    measured_periods,
    place_in_periods,
)
from kvar.metrics.frames import exact_sum, table_of
from kvar.metrics.grid import fill_calendar, sum_flags
from kvar.metrics.periods import window_offset


def churn_causes(
    subscriptions: IntoFrame,
    payments: IntoFrame,
    *,
    period: str = "month",
    window: str = "30d",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Columns ``period_start, period_end, churned, voluntary, involuntary, involuntary_share`` (%),
    ``mrr_lost``, ``voluntary_mrr_lost``, ``involuntary_mrr_lost``."""
    subs, finish = table_of(subscriptions, "subscriptions", ["customer_id", "started_at", "ended_at", "mrr"])
    paid, _ = table_of(payments, "payments", ["customer_id", "occurred_at", "status"])
    periods, as_of = measured_periods(subs, SUBSCRIPTION_OBSERVED, period, as_of)
    ended = spells(intervals_from_subscriptions(subs, grace)).filter(nw.col("spell_end") <= nw.lit(as_of))
    closing = subs.with_columns(reach=grace_end(nw.col("ended_at"), grace).fill_null(nw.lit(OPEN_END))).select(
        "customer_id", "reach", "mrr"
    )
    churns = ended.join(closing, left_on=["customer_id", "spell_end"], right_on=["customer_id", "reach"], how="left")
    churns = (
        churns.with_columns(nw.col("mrr").cast(nw.Float64))
        .group_by("customer_id", "spell_end")
        .agg(mrr_lost=exact_sum("mrr", subs))
    )
    offset = window_offset(window)
    attempts = paid.select("customer_id", "occurred_at", status=nw.col("status").cast(nw.String).str.to_lowercase())
    in_window = (nw.col("occurred_at") <= nw.col("spell_end")) & (
        nw.col("occurred_at").dt.offset_by(offset) >= nw.col("spell_end")
    )
    near = churns.join(attempts, on="customer_id", how="left").with_columns(
        failed_at=nw.when(in_window & (nw.col("status") == "failed")).then(nw.col("occurred_at")),
        succeeded_at=nw.when(in_window & (nw.col("status") == "succeeded")).then(nw.col("occurred_at")),
    )
    judged = (
        near.group_by("customer_id", "spell_end")
        .agg(
            nw.col("mrr_lost").max(), last_failure=nw.col("failed_at").max(), last_success=nw.col("succeeded_at").max()
        )
        .with_columns(
            involuntary=~nw.col("last_failure").is_null()
            & (nw.col("last_success").is_null() | (nw.col("last_success") < nw.col("last_failure")))
        )
    )
    placed = place_in_periods(judged, "spell_end", periods, period)
    counts = sum_flags(placed, ("period_start",), {"churned": nw.lit(True), "involuntary": nw.col("involuntary")})
    money = (
        placed.with_columns(involuntary_mrr_lost=nw.when(nw.col("involuntary")).then(nw.col("mrr_lost")).otherwise(0.0))
        .group_by("period_start")
        .agg(exact_sum("mrr_lost", subs), exact_sum("involuntary_mrr_lost", subs))
    )
    filled = fill_calendar(
        counts.join(money, on="period_start"),
        periods,
        periods,
        (),
        ("churned", "involuntary", "mrr_lost", "involuntary_mrr_lost"),
    )
    result = filled.with_columns(
        voluntary=nw.col("churned") - nw.col("involuntary"),
        voluntary_mrr_lost=nw.col("mrr_lost") - nw.col("involuntary_mrr_lost"),
        involuntary_share=nw.when(nw.col("churned") > 0).then(
            nw.col("involuntary").cast(nw.Float64) * 100.0 / nw.col("churned").cast(nw.Float64)
        ),
    )
    return finish(result)
