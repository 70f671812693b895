"""Cohort matrices written out by hand from scripted purchases."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar import cohort_table, historical_ltv

T = dt.datetime


def purchases() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "a", "b", "a"],
            "occurred_at": [
                T(2024, 1, 5),
                T(2024, 2, 10),
                T(2024, 1, 20),
                T(2024, 3, 1),
                T(2024, 3, 2),
                T(2024, 3, 9),
                T(2024, 2, 11),
            ],
            "amount": [10.0, 5.0, 7.0, 3.0, 1.0, 4.0, -2.0],
            "channel": ["ads", "ads", "organic", "organic", "ads", "organic", "ads"],
        }
    )


def test_logo_cohort_matrix() -> None:
    rows = cohort_table(purchases(), as_of=T(2024, 4, 1)).to_dicts()
    matrix = {(r["cohort"].month, r["period_offset"]): (r["value"], r["percent"]) for r in rows}
    # January cohort (a, b): a buys in Feb, both in March. Nobody started in February. c starts in March.
    assert matrix == {(1, 0): (2, 100.0), (1, 1): (1, 50.0), (1, 2): (2, 100.0), (3, 0): (1, 100.0)}
    assert {r["cohort"].month: r["cohort_size"] for r in rows} == {1: 2, 3: 1}


def test_quiet_periods_are_zero_cells_up_to_the_last_complete_period() -> None:
    # a buys in January and April, b only in March; measured to the end of April
    rows = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "occurred_at": [T(2024, 1, 9), T(2024, 4, 2), T(2024, 3, 3)],
            "amount": [1.0, 2.0, 4.0],
        }
    )
    matrix = cohort_table(rows, as_of=T(2024, 5, 1)).to_dicts()
    assert [(r["cohort"].month, r["period_offset"], r["cohort_size"], r["value"]) for r in matrix] == [
        (1, 0, 1, 1),
        (1, 1, 1, 0),
        (1, 2, 1, 0),
        (1, 3, 1, 1),
        (3, 0, 1, 1),
        (3, 1, 1, 0),
    ]
    revenue = cohort_table(rows, value="revenue", cumulative=True, as_of=T(2024, 5, 1)).to_dicts()
    assert [r["value"] for r in revenue] == [1.0, 1.0, 1.0, 3.0, 4.0, 4.0]


def test_revenue_cohort_matrix_nets_refunds_and_cumulates() -> None:
    rows = cohort_table(purchases(), value="revenue", as_of=T(2024, 4, 1)).to_dicts()
    january = [r["value"] for r in rows if r["cohort"] == T(2024, 1, 1)]
    assert january == [17.0, 3.0, 5.0]  # Feb: 5 - 2 refund; Mar: 1 + 4
    cumulative = cohort_table(purchases(), value="revenue", cumulative=True, as_of=T(2024, 4, 1)).to_dicts()
    assert [r["value"] for r in cumulative if r["cohort"] == T(2024, 1, 1)] == [17.0, 20.0, 25.0]
    assert [r["percent"] for r in cumulative if r["cohort"] == T(2024, 1, 1)] == pytest.approx(
        [100.0, 20 / 17 * 100, 25 / 17 * 100]
    )


def test_cohorts_split_by_attribute() -> None:
    rows = cohort_table(purchases(), by="channel", as_of=T(2024, 4, 1)).to_dicts()
    sizes = {(r["channel"], r["cohort"].month): r["cohort_size"] for r in rows}
    assert sizes == {("ads", 1): 1, ("organic", 1): 1, ("organic", 3): 1}


def test_historical_ltv_per_cohort() -> None:
    rows = historical_ltv(purchases()).to_dicts()
    assert rows[0] == {"cohort": T(2024, 1, 1), "customers": 2, "revenue": 25.0, "historical_ltv": 12.5}
    assert rows[-1]["cohort"] is None and rows[-1]["historical_ltv"] == pytest.approx(28.0 / 3)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefg"), st.datetimes(min_value=T(2023, 1, 1), max_value=T(2023, 12, 31))),
        min_size=1,
        max_size=30,
    )
)
def test_cohort_counts_never_exceed_cohort_size(rows) -> None:
    frame = pl.DataFrame(rows, schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us")}, orient="row")
    result = cohort_table(frame, as_of=T(2024, 1, 1)).to_dicts()
    for row in result:
        assert 0 <= row["value"] <= row["cohort_size"]
        if row["period_offset"] == 0:
            assert row["value"] == row["cohort_size"]
    assert sum(r["value"] for r in result if r["period_offset"] == 0) == len({c for c, _ in rows})
