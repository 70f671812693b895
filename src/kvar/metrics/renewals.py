"""Contract renewals: of the subscription intervals that came to an end, how many were continued.

Definition (docs/definitions.md, "Renewal rate"). An interval *ends* in a period when its ``ended_at``
falls in ``[period_start, period_end)``. It is *renewed* when the customer's activity spell goes on past
that end, i.e. another interval of theirs starts no later than ``ended_at`` (plus ``grace``): a renewal,
an upgrade or a downgrade. ``renewal_rate`` = renewed / ended * 100.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.activity import grace_end, intervals_from_subscriptions, spells
from kvar.metrics.calendar import (
    SUBSCRIPTION_OBSERVED,
    measured_periods,
    place_in_periods,
)
from kvar.metrics.frames import table_of
from kvar.metrics.grid import fill_calendar, sum_flags


def renewal_rate(
    subscriptions: IntoFrame, *, period: str = "month", grace: str | None = None, as_of: dt.datetime | None = None
) -> Any:
    """Columns ``period_start, period_end, ended, renewed, renewal_rate`` (%; null when nothing ended)."""
    subs, finish = table_of(subscriptions, "subscriptions", ["customer_id", "started_at", "ended_at"])
    periods, as_of = measured_periods(subs, SUBSCRIPTION_OBSERVED, period, as_of)
    customer_spells = spells(intervals_from_subscriptions(subs, grace))
    ended = subs.filter(~nw.col("ended_at").is_null()).select(
        "customer_id", "ended_at", reach=grace_end(nw.col("ended_at"), grace)
    )
    within = ended.join(customer_spells, on="customer_id").filter(
        nw.col("spell_start") < nw.col("ended_at"), nw.col("spell_end") >= nw.col("reach")
    )
    placed = place_in_periods(within, "ended_at", periods, period)
    counts = sum_flags(
        placed, ("period_start",), {"ended": nw.lit(True), "renewed": nw.col("spell_end") > nw.col("reach")}
    )
    filled = fill_calendar(counts, periods, periods, (), ("ended", "renewed"))
    result = filled.with_columns(
        renewal_rate=nw.when(nw.col("ended") > 0).then(
            nw.col("renewed").cast(nw.Float64) * 100.0 / nw.col("ended").cast(nw.Float64)
        )
    )
    return finish(result)
