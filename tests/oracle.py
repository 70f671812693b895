"""Independent, deliberately naive re-implementations of kvar's definitions in plain Python.

They follow docs/definitions.md word for word, customer by customer and boundary by boundary, sharing no
code with kvar, so that agreement on random data means the engine code implements the definitions.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable

FAR = dt.datetime(9999, 1, 1)


def month_boundaries(first: dt.datetime, as_of: dt.datetime) -> list[dt.datetime]:
    year, month = first.year, first.month
    out = []
    while True:
        point = dt.datetime(year, month, 1)
        if point > as_of:
            return out
        out.append(point)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def retention_rows(
    intervals: dict[str, list[tuple[dt.datetime, dt.datetime | None]]], points: list[dt.datetime]
) -> list[dict]:
    """Counts per period from each customer's activity intervals [start, end) (None = open)."""

    def active(customer: str, boundary: dt.datetime) -> bool:
        return any(start < boundary <= (end or FAR) for start, end in intervals[customer])

    rows = []
    for low, high in itertools.pairwise(points):
        row = dict(
            period_start=low, customers_start=0, customers_end=0, new_customers=0, reactivated=0, churned=0, acquired=0
        )
        for customer, spans in intervals.items():
            first = min(start for start, _ in spans)
            at_start, at_end = active(customer, low), active(customer, high)
            acquired = low <= first < high
            row["customers_start"] += at_start
            row["customers_end"] += at_end
            row["new_customers"] += at_end and not at_start
            row["reactivated"] += at_end and not at_start and not acquired
            row["churned"] += at_start and not at_end
            row["acquired"] += acquired
        rows.append(row)
    return rows


def purchase_intervals(purchases: Iterable[tuple[str, dt.datetime]], window: dt.timedelta) -> dict:
    out: dict[str, list] = defaultdict(list)
    for customer, at in purchases:
        out[customer].append((at, at + window))
    return out


def mrr_rows(
    subscriptions: list[tuple[str, dt.datetime, dt.datetime | None, float]], points: list[dt.datetime]
) -> list[dict]:
    """MRR and its movements per period, customer by customer."""
    customers = {row[0] for row in subscriptions}

    def mrr(customer: str, boundary: dt.datetime) -> float:
        return sum(
            amount for who, start, end, amount in subscriptions if who == customer and start < boundary <= (end or FAR)
        )

    def first_paid(customer: str) -> dt.datetime:
        return min(start for who, start, _, amount in subscriptions if who == customer and amount > 0)

    rows = []
    for low, high in itertools.pairwise(points):
        row = dict(
            period_start=low,
            mrr_start=0.0,
            mrr_end=0.0,
            new_mrr=0.0,
            expansion_mrr=0.0,
            contraction_mrr=0.0,
            churned_mrr=0.0,
            reactivation_mrr=0.0,
        )
        for customer in customers:
            m0, m1 = mrr(customer, low), mrr(customer, high)
            row["mrr_start"] += m0
            row["mrr_end"] += m1
            if m0 == 0 and m1 > 0:
                row["new_mrr" if first_paid(customer) >= low else "reactivation_mrr"] += m1
            elif m0 > 0 and m1 == 0:
                row["churned_mrr"] -= m0
            elif m1 > m0 > 0:
                row["expansion_mrr"] += m1 - m0
            elif 0 < m1 < m0:
                row["contraction_mrr"] += m1 - m0
        rows.append(row)
    return rows
