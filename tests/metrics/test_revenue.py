"""MRR movements: a hand-computed ledger, the add-up identity, and an independent oracle."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar import mrr_movements, unit_economics
from tests.oracle import month_boundaries, mrr_rows

T = dt.datetime
SCHEMA = {"customer_id": pl.String, "started_at": pl.Datetime("us"), "ended_at": pl.Datetime("us"), "mrr": pl.Float64}


def ledger() -> pl.DataFrame:
    return pl.DataFrame(
        [
            ("a", T(2024, 1, 10), T(2024, 2, 15), 10.0),  # a: new 10 in Jan, upgrades to 20 on Feb 15
            ("a", T(2024, 2, 15), None, 20.0),
            ("b", T(2024, 1, 5), T(2024, 3, 5), 30.0),  # b: new 30 in Jan, churns Mar 5, returns Apr 10
            ("b", T(2024, 4, 10), None, 30.0),
            ("c", T(2024, 2, 1), T(2024, 3, 20), 50.0),  # c: new 50 in Feb, downgrades to 40 Mar 20, leaves May 20
            ("c", T(2024, 3, 20), T(2024, 5, 20), 40.0),
        ],
        schema=SCHEMA,
        orient="row",
    )


def test_hand_computed_movements() -> None:
    rows = mrr_movements(ledger(), as_of=T(2024, 5, 1)).to_dicts()
    columns = ("mrr_start", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr", "mrr_end")
    assert [tuple(r[c] for c in columns) for r in rows] == [
        (0.0, 40.0, 0.0, 0.0, 0.0, 0.0, 40.0),
        (40.0, 50.0, 10.0, 0.0, 0.0, 0.0, 100.0),
        (100.0, 0.0, 0.0, -10.0, -30.0, 0.0, 60.0),
        (60.0, 0.0, 0.0, 0.0, 0.0, 30.0, 90.0),
    ]
    february, march = rows[1], rows[2]
    assert february["nrr"] == pytest.approx(125.0) and february["grr"] == pytest.approx(100.0)
    assert march["grr"] == pytest.approx(60.0) and march["revenue_churn_rate"] == pytest.approx(40.0)
    assert march["arpa"] == pytest.approx(30.0) and march["arr_end"] == pytest.approx(720.0)
    assert february["expansion_customer_share"] == pytest.approx(50.0)
    assert february["expansion_revenue_share"] == pytest.approx(10.0)


def test_unit_economics_lifetime_and_ltv() -> None:
    rows = unit_economics(ledger(), gross_margin=0.8, as_of=T(2024, 5, 1)).to_dicts()
    march = rows[2]
    # March: 3 customers at the start, b churned -> churn 33.3 %, lifetime 3 months, ARPA 30.
    assert march["churn_rate"] == pytest.approx(100 / 3)
    assert march["average_lifetime"] == pytest.approx(3.0)
    assert march["ltv"] == pytest.approx(30.0 * 0.8 * 3.0)
    assert rows[0]["ltv"] is None  # nobody churned in January


interval = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.datetimes(min_value=T(2023, 1, 1), max_value=T(2023, 10, 1)),
    st.integers(min_value=1, max_value=300),
    st.booleans(),
    st.sampled_from([0.0, 10.0, 25.5, 99.0]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(interval, min_size=1, max_size=12))
def test_movements_add_up_and_match_oracle(intervals) -> None:
    subs = [
        (who, start, None if open_ else start + dt.timedelta(days=days), mrr)
        for who, start, days, open_, mrr in intervals
    ]
    frame = pl.DataFrame(subs, schema=SCHEMA, orient="row")
    as_of = T(2024, 1, 1)
    got = mrr_movements(frame, as_of=as_of).to_dicts()
    expected = mrr_rows(subs, month_boundaries(min(s[1] for s in subs), as_of)) if any(s[3] > 0 for s in subs) else None
    for row in got:
        moved = sum(row[c] for c in ("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"))
        assert row["mrr_start"] + moved == pytest.approx(row["mrr_end"])
    if expected:
        assert [
            {k: pytest.approx(r[k]) if isinstance(r[k], float) else r[k] for k in expected[0]} for r in got
        ] == expected
