"""Retention counts and rates: the textbook example, hand-computed cases, and an independent oracle."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar import retention_rate, retention_table
from kvar.errors import InputError, ParameterError
from kvar.metrics.frames import rows_of
from tests.oracle import month_boundaries, purchase_intervals, retention_rows

T = dt.datetime


def test_retention_rate_textbook_example() -> None:
    assert retention_rate(customers_start=1000, new_customers=200, customers_end=1150) == 95.0


def test_retention_table_reproduces_textbook_example_from_subscriptions() -> None:
    # 1000 customers subscribed before January; 50 cancel during January; 200 sign up in January.
    rows = [
        {"customer_id": f"old{i}", "started_at": T(2023, 12, 5), "ended_at": T(2024, 1, 20) if i < 50 else None}
        for i in range(1000)
    ]
    rows += [{"customer_id": f"new{i}", "started_at": T(2024, 1, 10), "ended_at": None} for i in range(200)]
    subs = pl.DataFrame(
        rows, schema={"customer_id": pl.String, "started_at": pl.Datetime("us"), "ended_at": pl.Datetime("us")}
    )
    result = retention_table(subscriptions=subs, period="month", as_of=T(2024, 2, 1))
    january = result.filter(pl.col("period_start") == T(2024, 1, 1)).to_dicts()[0]
    assert (january["customers_start"], january["new_customers"], january["customers_end"]) == (1000, 200, 1150)
    assert january["churned"] == 50
    assert january["retention_rate"] == pytest.approx(95.0)
    assert january["churn_rate"] == pytest.approx(5.0)


def test_retention_excludes_customers_acquired_in_period_and_counts_reactivations(duckdb_frame) -> None:
    import pyarrow as pa

    # 30-day window. a: Jan 5, Feb 10 (active through Mar 11); b: Jan 20 only (lapses Feb 19);
    # c: Mar 1 (acquired in March, lapses Mar 31: acquired but not at the end); b returns Apr 15.
    table = pa.table(
        {
            "customer_id": ["a", "a", "b", "c", "b"],
            "occurred_at": [T(2024, 1, 5), T(2024, 2, 10), T(2024, 1, 20), T(2024, 3, 1), T(2024, 4, 15)],
        }
    )
    rows = rows_of(retention_table(duckdb_frame(table), period="month", inactivity="30d", as_of=T(2024, 5, 1)))
    counts = [
        (r["customers_start"], r["new_customers"], r["reactivated"], r["churned"], r["customers_end"], r["acquired"])
        for r in rows
    ]
    assert counts == [
        (0, 2, 0, 0, 2, 2),  # January: a and b acquired, both active on Feb 1
        (2, 0, 0, 1, 1, 0),  # February: b lapses on Feb 19
        (1, 0, 0, 1, 0, 1),  # March: a lapses Mar 11; c acquired Mar 1 and lapsed Mar 31
        (0, 1, 1, 0, 1, 0),  # April: b comes back on Apr 15: gained, and a reactivation
    ]
    assert [r["retention_rate"] for r in rows] == [None, 50.0, 0.0, None]


def test_grace_period_bridges_a_short_gap() -> None:
    # Cancelled on Jan 25, back on Feb 5: without grace a January churn and a February reactivation.
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "a"],
            "started_at": [T(2023, 12, 1), T(2024, 2, 5)],
            "ended_at": [T(2024, 1, 25), None],
        }
    )
    strict = retention_table(subscriptions=subs, as_of=T(2024, 3, 1)).to_dicts()
    lenient = retention_table(subscriptions=subs, grace="14d", as_of=T(2024, 3, 1)).to_dicts()
    assert [(r["churned"], r["reactivated"]) for r in strict] == [(0, 0), (1, 0), (0, 1)]
    assert [(r["churned"], r["reactivated"]) for r in lenient] == [(0, 0), (0, 0), (0, 0)]
    assert [r["customers_end"] for r in lenient] == [1, 1, 1]


def test_split_by_segment_uses_customers_first_attribute() -> None:
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "occurred_at": [T(2024, 1, 5), T(2024, 2, 5), T(2024, 1, 7)],
            "channel": ["ads", "organic", "organic"],
        }
    )
    rows = retention_table(tx, by="channel", inactivity="60d", as_of=T(2024, 3, 1)).to_dicts()
    january = {r["channel"]: r["new_customers"] for r in rows if r["period_start"] == T(2024, 1, 1)}
    assert january == {"ads": 1, "organic": 1}


def test_errors_are_clear() -> None:
    tx = pl.DataFrame({"customer_id": ["a"], "occurred_at": [T(2024, 1, 5)]})
    with pytest.raises(ParameterError, match="exactly one"):
        retention_table()
    with pytest.raises(ParameterError, match="period"):
        retention_table(tx, period="fortnight")
    with pytest.raises(ParameterError, match="window"):
        retention_table(tx, inactivity="soon")
    with pytest.raises(InputError, match="no complete month"):
        retention_table(tx)
    with pytest.raises(InputError, match="missing column"):
        retention_table(tx.rename({"occurred_at": "when"}))


purchase = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.datetimes(min_value=T(2023, 1, 1), max_value=T(2023, 12, 31, 23)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(purchase, min_size=1, max_size=40), st.integers(min_value=1, max_value=120))
def test_matches_independent_oracle_and_keeps_identities(purchases, window_days) -> None:
    frame = pl.DataFrame(purchases, schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us")}, orient="row")
    as_of = T(2024, 1, 1)
    got = retention_table(frame, period="month", inactivity=f"{window_days}d", as_of=as_of).to_dicts()
    points = month_boundaries(min(at for _, at in purchases), as_of)
    expected = retention_rows(purchase_intervals(purchases, dt.timedelta(days=window_days)), points)
    assert [{k: r[k] for k in expected[0]} for r in got] == expected
    for row in got:
        assert row["customers_end"] == row["customers_start"] - row["churned"] + row["new_customers"]
        if row["customers_start"]:
            assert 0 <= row["retention_rate"] <= 100
            assert row["retention_rate"] + row["churn_rate"] == pytest.approx(100)
            assert row["retention_rate"] == pytest.approx(
                (row["customers_end"] - row["new_customers"]) * 100 / row["customers_start"]
            )
