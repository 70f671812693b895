"""Customer lifetimes: how long each customer's first activity spell lasted, and whether it has ended.

A customer's lifetime is their first activity spell (docs/definitions.md, "Activity"): from acquisition
to the end of that spell, in days. It is *observed* (an event) when the spell ended by ``as_of``, and
*censored* otherwise (still a customer). The table survival models are fitted on
(:mod:`kvar.models.survival`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.metrics.activity import activity_source, spells
from kvar.metrics.calendar import observation
from kvar.metrics.grid import segment_of
from kvar.metrics.periods import with_epoch_days


def customer_lifetimes(
    transactions: IntoFrame | None = None,
    subscriptions: IntoFrame | None = None,
    *,
    by: str | None = None,
    customers: IntoFrame | None = None,
    inactivity: str = "90d",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Per customer: ``duration_days`` of the first spell (to ``as_of`` if still open) and ``observed``."""
    source = activity_source(transactions, subscriptions, inactivity=inactivity, grace=grace)
    _, as_of = observation(source.facts, source.time_columns, as_of)
    first = spells(source.intervals, equal_lengths=source.equal_lengths).filter(
        nw.col("spell_start") == nw.col("acquired_at")
    )
    ends = first.with_columns(
        observed=(nw.col("spell_end") <= nw.lit(as_of)),
        until=nw.when(nw.col("spell_end") <= nw.lit(as_of)).then(nw.col("spell_end")).otherwise(nw.lit(as_of)),
    )
    dated = with_epoch_days(with_epoch_days(ends, "acquired_at", "start_day"), "until", "end_day")
    lifetimes = dated.select(
        "customer_id", "acquired_at", "observed", duration_days=(nw.col("end_day") - nw.col("start_day")).cast(nw.Int64)
    ).filter(nw.col("acquired_at") < nw.lit(as_of))
    if by:
        lifetimes = lifetimes.join(
            segment_of(source.facts, by, source.first_seen_column, customers), on="customer_id", how="left"
        )
    return source.finish(lifetimes.sort("customer_id"))
