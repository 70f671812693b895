"""The per-customer CLV summary against the published CDNOW summaries, and purchase KPIs by hand."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from kvar import customer_summary, load_file, purchase_activity, repeat_purchase_rate, rows_of

T = dt.datetime


@pytest.fixture()
def cdnow_sample(con, data_dir):
    result = load_file(con, "transactions", data_dir / "CDNOW_sample.txt")
    return con.table(result.accepted_table)


def test_summary_reproduces_published_cdnow_summaries(cdnow_sample, data_dir) -> None:
    rows = rows_of(customer_summary(cdnow_sample, freq="D", unit="W", calibration_end=dt.date(1997, 9, 30)))
    with (data_dir / "cdnow_customers_summary.csv").open() as handle:
        published = {int(r["ID"]): r for r in csv.DictReader(handle)}
    with (data_dir / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        zbar = {int(r["ID"]): float(r["zbar"]) for r in csv.DictReader(handle)}
    assert len(rows) == len(published) == 2357
    for row in rows:
        expected = published[int(row["customer_id"])]
        assert row["frequency"] == int(expected["frequency"])
        assert row["recency"] == pytest.approx(float(expected["recency"]), abs=0.0051)
        assert row["T"] == pytest.approx(float(expected["T"]), abs=0.0051)
        assert row["monetary_value"] == pytest.approx(zbar[int(row["customer_id"])], abs=0.0051)
    assert sum(r["frequency"] > 0 for r in rows) == 946
    # The 39-week holdout: 1,882 repeat purchase days, 334 of them by the 1,411 zero-repeaters.
    assert sum(r["frequency_holdout"] for r in rows) == 1882
    assert sum(r["frequency_holdout"] for r in rows if r["frequency"] == 0) == 334
    assert {r["duration_holdout"] for r in rows} == {39.0}


def test_summary_in_days_without_holdout() -> None:
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "occurred_at": [T(2024, 1, 1, 9), T(2024, 1, 1, 18), T(2024, 1, 11), T(2024, 1, 5)],
            "amount": [5.0, 5.0, 30.0, 8.0],
        }
    )
    rows = customer_summary(tx).to_dicts()
    assert rows == [
        {"customer_id": "a", "frequency": 1, "recency": 10.0, "T": 10.0, "monetary_value": 30.0},
        {"customer_id": "b", "frequency": 0, "recency": 0.0, "T": 6.0, "monetary_value": 0.0},
    ]


def test_purchase_activity_and_repeat_rate_by_hand() -> None:
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "a", "c"],
            "occurred_at": [T(2024, 1, 2), T(2024, 1, 20), T(2024, 1, 25), T(2024, 2, 3), T(2024, 2, 9)],
            "amount": [10.0, 20.0, 30.0, 40.0, -5.0],
        }
    )
    rows = purchase_activity(tx, as_of=T(2024, 3, 1)).to_dicts()
    jan, feb = rows
    assert (jan["buyers"], jan["purchases"], jan["returning_buyers"], jan["revenue"]) == (2, 3, 0, 60.0)
    assert jan["purchase_frequency"] == pytest.approx(1.5) and jan["average_order_value"] == pytest.approx(20.0)
    assert (feb["buyers"], feb["returning_buyers"], feb["revenue"]) == (1, 1, 35.0)  # c only refunded
    overall = repeat_purchase_rate(tx).to_dicts()[0]
    assert overall == {
        "customers": 2,
        "repeat_customers": 1,
        "purchases": 4,
        "repeat_purchase_rate": 50.0,
        "purchase_frequency": 2.0,
    }


def test_every_transaction_metric_runs_on_full_cdnow(con, data_dir) -> None:
    from kvar import cohort_table, historical_ltv, pareto_concentration, retention_table

    master = con.table(load_file(con, "transactions", data_dir / "CDNOW_master.txt").accepted_table)
    retention = rows_of(retention_table(master, period="quarter", inactivity="90d"))
    assert retention[0]["acquired"] == 23570  # the whole cohort arrived in Q1 1997
    cohorts = rows_of(cohort_table(master, period="quarter"))
    assert cohorts[0]["cohort_size"] == 23570
    pareto = {r["top_customers_share"]: r for r in rows_of(pareto_concentration(master))}
    assert pareto[20.0]["top_customers"] == 4714  # 20 % of 23,570
    assert sum(r["customers"] for r in rows_of(historical_ltv(master)) if r["cohort"] is not None) == 23570
    # Customers with at least one purchase (a line of $0 or more: a free order counts), straight from the text.
    lines = (data_dir / "CDNOW_master.txt").read_text().splitlines()[1:]
    buyers = {fields[0] for fields in map(str.split, lines) if float(fields[3]) >= 0}
    assert rows_of(repeat_purchase_rate(master))[0]["customers"] == len(buyers)
    assert len(rows_of(customer_summary(master))) == 23570
    assert len(rows_of(purchase_activity(master, period="quarter"))) == 6
