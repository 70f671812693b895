"""Product engagement from events: daily and monthly active customers and DAU/MAU stickiness.

Definitions (docs/definitions.md, "Engagement"). An *actor* is ``user_id`` when the events carry one
(several users per customer account), else ``customer_id``. For each complete period:
``active`` = distinct actors with any event; ``average_daily_active`` = the sum over the period's calendar
days of that day's distinct actors, divided by the number of days (days without events count as 0);
``stickiness`` = average_daily_active / active * 100 (DAU/MAU when the period is a month).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.calendar import measured_periods, place_in_periods
from kvar.metrics.frames import table_of
from kvar.metrics.grid import fill_calendar
from kvar.metrics.periods import with_epoch_days


def stickiness(events: IntoFrame, *, period: str = "month", as_of: dt.datetime | None = None) -> Any:
    """Columns ``period_start, period_end, days, active, average_daily_active, stickiness`` (%)."""
    facts, finish = table_of(events, "events", ["customer_id", "occurred_at"])
    actor = (
        nw.coalesce(nw.col("user_id").cast(nw.String), nw.col("customer_id").cast(nw.String))
        if "user_id" in facts.collect_schema().names()
        else nw.col("customer_id").cast(nw.String)
    )
    periods, as_of = measured_periods(facts, ["occurred_at"], period, as_of)
    placed = place_in_periods(
        facts.select(actor=actor, occurred_at="occurred_at", day=nw.col("occurred_at").dt.truncate("1d")),
        "occurred_at",
        periods,
        period,
    )
    daily = placed.group_by("period_start", "day").agg(daily_active=nw.col("actor").n_unique())
    monthly = (
        placed.group_by("period_start")
        .agg(active=nw.col("actor").n_unique())
        .with_columns(nw.col("active").cast(nw.Int64))
    )
    summed = (
        daily.group_by("period_start")
        .agg(daily_sum=nw.col("daily_active").sum())
        .with_columns(nw.col("daily_sum").cast(nw.Float64))
    )
    counts = monthly.join(summed, on="period_start")
    filled = fill_calendar(counts, periods, periods, (), ("active", "daily_sum"))
    dated = with_epoch_days(with_epoch_days(filled, "period_start", "start_day"), "period_end", "end_day")
    result = (
        dated.with_columns(days=(nw.col("end_day") - nw.col("start_day")).cast(nw.Int64))
        .drop("start_day", "end_day")
        .with_columns(average_daily_active=nw.col("daily_sum") / nw.col("days").cast(nw.Float64))
        .with_columns(
            stickiness=nw.when(nw.col("active") > 0).then(
                nw.col("average_daily_active") * 100.0 / nw.col("active").cast(nw.Float64)
            )
        )
        .drop("daily_sum")
    )
    return finish(result)
