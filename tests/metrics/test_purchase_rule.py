"""One rule for what a purchase is: orders (lines sharing an order id) that are not refunds."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

import kvar
from kvar.metrics.frames import rows_of
from kvar.metrics.segments import rfm_segments
from tests.conftest import ts


def frame(con, rows: list[tuple]) -> object:
    """Rows of (customer_id, occurred_at, amount, transaction_id)."""
    return con.from_arrow(
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "occurred_at": pa.array([ts(r[1]) for r in rows], pa.timestamp("us")),
                "amount": [float(r[2]) for r in rows],
                "transaction_id": pa.array([r[3] if len(r) > 3 else None for r in rows], pa.string()),
            }
        )
    )


def by_period(result) -> dict[dt.datetime, dict]:
    return {row["period_start"]: row for row in rows_of(result)}


def test_a_refund_does_not_keep_a_customer_active(con) -> None:
    # Bought 10 Jan, refunded 20 Mar, inactivity 90 days: active until 10 Apr, so churned in April (not June).
    orders = frame(
        con, [("a", "2024-01-10", 50), ("a", "2024-03-20", -50), ("b", "2024-01-05", 10), ("b", "2024-07-30", 10)]
    )
    table = by_period(kvar.retention_table(orders, period="month", inactivity="90d", as_of=dt.datetime(2024, 8, 1)))
    assert table[dt.datetime(2024, 4, 1)]["churned"] == 2  # a (10 Apr) and b (4 Apr)
    assert table[dt.datetime(2024, 6, 1)]["churned"] == 0
    assert [table[dt.datetime(2024, month, 1)]["customers_end"] for month in (1, 2, 3, 4, 5, 6)] == [2, 2, 2, 0, 0, 0]


def test_order_lines_are_one_purchase_and_refund_orders_none(con) -> None:
    rows = [
        ("a", "2024-01-10 10:00", 20, "o1"),
        ("a", "2024-01-10 10:00", 5, "o1"),
        ("a", "2024-01-10 10:00", 7, "o1"),
        ("a", "2024-02-03", -7, "C1"),  # a cancellation: a refund order
        ("b", "2024-01-11", 10, "o2"),
        ("b", "2024-02-11", 10, "o3"),
        ("c", "2024-01-12", 3, None),
        ("c", "2024-01-12", 3, None),  # no order id: each row is an order
    ]
    repeat = rows_of(kvar.repeat_purchase_rate(frame(con, rows)))[0]
    # purchases: a 1 (three lines of o1), b 2, c 2 -> customers 3, repeaters b and c
    assert (repeat["customers"], repeat["repeat_customers"], repeat["purchases"]) == (3, 2, 5)
    activity = by_period(kvar.purchase_activity(frame(con, rows), period="month", as_of=dt.datetime(2024, 3, 1)))
    january, february = activity[dt.datetime(2024, 1, 1)], activity[dt.datetime(2024, 2, 1)]
    assert (january["purchases"], january["buyers"], january["purchase_amount"]) == (4, 3, 48.0)
    assert (february["purchases"], february["buyers"], february["revenue"]) == (1, 1, 3.0)  # b's 10 less a's 7 refund
    rfm = {row["customer_id"]: row for row in rows_of(rfm_segments(frame(con, rows), as_of=dt.datetime(2024, 3, 1)))}
    assert {key: row["frequency"] for key, row in rfm.items()} == {"a": 1, "b": 2, "c": 2}
    assert rfm["a"]["monetary"] == 25.0 and rfm["a"]["recency_days"] == 50  # last purchase 10 Jan, not the refund


def test_cohorts_count_purchases_and_refund_only_customers_belong_nowhere(con) -> None:
    rows = [
        ("a", "2024-01-05", 10),
        ("a", "2024-02-07", -10),  # refund in February: no February purchase
        ("b", "2024-01-09", 10),
        ("b", "2024-02-02", 10),
        ("z", "2024-01-20", -5),  # only a refund: not a customer of any cohort
    ]
    logo = {
        (r["cohort"], r["period_offset"]): r
        for r in rows_of(kvar.cohort_table(frame(con, rows), period="month", as_of=dt.datetime(2024, 3, 1)))
    }
    january = dt.datetime(2024, 1, 1)
    assert logo[(january, 0)]["cohort_size"] == 2 and logo[(january, 0)]["value"] == 2
    assert logo[(january, 1)]["value"] == 1  # only b purchased in February
    assert {cohort for cohort, _ in logo} == {january}
    revenue = {
        r["period_offset"]: r["value"]
        for r in rows_of(
            kvar.cohort_table(frame(con, rows), period="month", value="revenue", as_of=dt.datetime(2024, 3, 1))
        )
    }
    assert revenue == {0: 20.0, 1: 0.0}  # February: b's 10 less a's refund of 10


def test_clv_summary_counts_purchases_and_spend_is_never_negative(con) -> None:
    rows = [
        ("a", "2024-01-01", 10),
        ("a", "2024-01-15", 30),
        ("a", "2024-01-20", -100),  # refunds exceed purchases
        ("b", "2024-01-02", 10, "o1"),
        ("b", "2024-01-02", 10, "o1"),
        ("b", "2024-01-29", 4),
    ]
    summary = {row["customer_id"]: row for row in rows_of(kvar.customer_summary(frame(con, rows), freq="D"))}
    assert (summary["a"]["frequency"], summary["a"]["monetary_value"], summary["a"]["recency"]) == (1, 30.0, 14.0)
    assert (summary["b"]["frequency"], summary["b"]["monetary_value"]) == (1, 4.0)
