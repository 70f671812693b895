"""RFM scores, named segments, value tiers and a health score (docs/definitions.md, "Segments").

Per customer, as of ``as_of`` (default: the end of the last day seen):

* ``recency_days``: whole days from the last purchase to the last observed day (``as_of`` - 1 day); ``frequency``: purchases
  (orders that are not refunds, :mod:`kvar.metrics.orders`); customers without a purchase are left out;
  ``monetary``: net revenue (refunds subtracted).
* Scores 1-5 by quintile of the customer's rank among all customers (ties share the lower rank, so the
  same value always gets the same score): ``r_score`` (5 = most recent), ``f_score``, ``m_score``
  (5 = most); ``fm_score`` = round-half-up of (f + m) / 2.
* ``segment``: the first matching rule of :data:`SEGMENT_RULES` on (r, fm).
* ``value_tier``: ``top`` for the top 20 % of customers by net revenue, ``middle`` for the next 30 %,
  ``low`` for the rest (each cut rounded to the nearest whole customer, a half to the even one, and at
  least one customer: 20 % of 12 customers is the top 2, 50 % of 5 is the top 2).
* ``health_score`` (0-100): a weighted mean of the r, f and m scores mapped from 1-5 onto 0-100;
  default weights 0.4, 0.3, 0.3 (recency matters most for whether a customer stays).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import narwhals as nw
from narwhals.typing import IntoFrame

from kvar.errors import ParameterError
from kvar.i18n import marked, tr
from kvar.metrics.calendar import observation
from kvar.metrics.frames import exact_sum, rows_of, table_of
from kvar.metrics.orders import orders
from kvar.metrics.periods import with_epoch_days

#: (segment, minimum r, maximum r, minimum fm, maximum fm), checked in order.
SEGMENT_RULES: tuple[tuple[str, int, int, int, int], ...] = (
    (marked("Champions"), 4, 5, 4, 5),
    (marked("Loyal"), 3, 5, 3, 5),
    (marked("Potential loyalists"), 4, 5, 2, 3),
    (marked("New customers"), 4, 5, 1, 1),
    (marked("Promising"), 3, 3, 1, 2),
    (marked("Can't lose them"), 1, 1, 4, 5),
    (marked("At risk"), 1, 2, 3, 5),
    (marked("Hibernating"), 2, 2, 1, 2),
    (marked("Lost"), 1, 1, 1, 2),
)
DEFAULT_HEALTH_WEIGHTS = {"r": 0.4, "f": 0.3, "m": 0.3}


def _rank(column: str, descending: bool) -> nw.Expr:
    """The customer's rank by ``column``, ties sharing the lower rank."""
    return nw.col(column).rank("min", descending=descending).cast(nw.Int64)


def _quintile(rank: str) -> nw.Expr:
    """The score 1-5 of the rank in column ``rank`` among the ``customers`` (both columns of their own, so
    the engine ranks and counts once)."""
    return ((nw.col(rank) - 1) * 5 // nw.col("customers") + 1).cast(nw.Int64)


def _tier_size(share: Fraction) -> nw.Expr:
    """How many customers ``share`` of the ``customers`` is: rounded to the nearest whole customer (a half
    to the even one, as Python's ``round``), at least one. Integer arithmetic, so exact at any count."""
    scaled = nw.col("customers") * share.numerator
    whole = scaled // share.denominator
    twice_rest = (scaled - whole * share.denominator) * 2
    rounds_up = (twice_rest > share.denominator) | ((twice_rest == share.denominator) & (whole % 2 == 1))
    return nw.max_horizontal(whole + rounds_up.cast(nw.Int64), nw.lit(1))


def rfm_segments(
    transactions: IntoFrame,
    *,
    as_of: dt.datetime | None = None,
    health_weights: Mapping[str, float] = DEFAULT_HEALTH_WEIGHTS,
    ordered: bool = True,
) -> Any:
    """One row per customer: RFM values, scores, ``segment``, ``value_tier`` and ``health_score``; by
    ``customer_id`` (``ordered=False``: in no order, for an aggregate over them such as
    :func:`segment_summary`, which then need not sort a row per customer)."""
    if (
        set(health_weights) != {"r", "f", "m"}
        or any(w < 0 for w in health_weights.values())
        or sum(health_weights.values()) <= 0
    ):
        raise ParameterError(tr("health_weights: expected non-negative weights for r, f and m, not all zero"))
    facts, finish = table_of(transactions, "transactions", ["customer_id", "occurred_at", "amount"])
    _, as_of = observation(facts, ["occurred_at"], as_of)
    placed = orders(facts.filter(nw.col("occurred_at") < nw.lit(as_of)))
    per_customer = (
        placed.with_columns(purchase_count=nw.col("is_purchase").cast(nw.Int64))
        .group_by("customer_id")
        .agg(
            last_purchase=nw.when(nw.col("is_purchase")).then(nw.col("occurred_at")).max(),
            frequency=nw.col("purchase_count").sum(),
            monetary=exact_sum("amount", facts),
        )
        .filter(~nw.col("last_purchase").is_null())
        .with_columns(nw.col("frequency").cast(nw.Int64))
    )
    if not rows_of(placed.filter(nw.col("is_purchase")).select("customer_id").head(1)):
        raise ParameterError(tr("no transactions before {as_of:%Y-%m-%d}").format(as_of=as_of))
    counted = per_customer.with_columns(as_of=nw.lit(as_of), _all=nw.lit(1)).with_columns(
        customers=nw.len().over("_all").cast(nw.Int64)
    )
    dated = with_epoch_days(counted, "last_purchase", "last_day")
    dated = with_epoch_days(dated, "as_of", "as_of_day")
    scored = (
        dated.with_columns(recency_days=(nw.col("as_of_day") - nw.col("last_day") - 1).cast(nw.Int64))
        .with_columns(
            r_rank=_rank("recency_days", descending=True),
            f_rank=_rank("frequency", descending=False),
            m_rank=_rank("monetary", descending=False),
            value_rank=_rank("monetary", descending=True),
        )
        .with_columns(
            r_score=_quintile("r_rank"),
            f_score=_quintile("f_rank"),
            m_score=_quintile("m_rank"),
        )
        .with_columns(fm_score=(nw.col("f_score") + nw.col("m_score") + 1) // 2)
    )
    r, fm = nw.col("r_score"), nw.col("fm_score")
    segment: Any = None  # narwhals' when/then chain, started by the first rule
    for name, r_low, r_high, fm_low, fm_high in SEGMENT_RULES:
        condition = (r >= r_low) & (r <= r_high) & (fm >= fm_low) & (fm <= fm_high)
        segment = (
            nw.when(condition).then(nw.lit(name)) if segment is None else segment.when(condition).then(nw.lit(name))
        )
    total_weight = sum(health_weights.values())
    health = nw.sum_horizontal(
        *(
            (nw.col(f"{key}_score").cast(nw.Float64) - 1.0) * 25.0 * (weight / total_weight)
            for key, weight in health_weights.items()
        )
    )
    tier = (
        nw.when(nw.col("value_rank") <= _tier_size(Fraction(1, 5)))
        .then(nw.lit("top"))
        .when(nw.col("value_rank") <= _tier_size(Fraction(1, 2)))
        .then(nw.lit("middle"))
        .otherwise(nw.lit("low"))
    )
    result = scored.select(
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "fm_score",
        segment=segment.otherwise(nw.lit("Other")),
        value_tier=tier,
        health_score=health,
    )
    return finish(result.sort("customer_id") if ordered else result)


def segment_summary(segments: IntoFrame) -> Any:
    """One row per segment of an :func:`rfm_segments` table: ``customers``, ``share_of_customers`` (%),
    ``revenue`` (the segment's net revenue), ``share_of_revenue`` (%, null when the total is 0) and
    ``average_health``; the largest segment first (ties by name). Same kind of frame as ``segments``."""
    frame, finish = table_of(segments, "segments", ["segment", "monetary", "health_score"])
    groups = frame.group_by("segment").agg(
        nw.len().cast(nw.Int64).alias("customers"),
        exact_sum("monetary", frame).alias("revenue"),
        exact_sum("health_score", frame).alias("health_total"),  # a mean whatever the order of the rows
    )
    # the totals over the (few) segments, so that the customers are read once
    totals = groups.with_columns(_all=nw.lit(1)).with_columns(
        all_customers=nw.col("customers").sum().over("_all").cast(nw.Float64),
        all_revenue=exact_sum("revenue", frame).over("_all"),
    )
    shared = totals.select(
        "segment",
        "customers",
        share_of_customers=nw.col("customers") * 100.0 / nw.col("all_customers"),
        revenue="revenue",
        share_of_revenue=nw.when(nw.col("all_revenue") != 0).then(nw.col("revenue") * 100.0 / nw.col("all_revenue")),
        average_health=nw.col("health_total") / nw.col("customers"),
    )
    return finish(shared.sort(["customers", "segment"], descending=[True, False]))
