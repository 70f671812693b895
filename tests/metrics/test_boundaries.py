"""The boundary rule: which side of a period's first instant a subscription starting or ending exactly there
falls on. Hand-computed cases for both sides, the one-second shift that turns one into the other, and
Fighting Churn with Data's own chapter-2 SQL listings (tests/data/fightchurn) run on generated subscriptions."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvar.errors import ParameterError
from kvar.metrics.frames import rows_of
from kvar.metrics.retention import retention_table
from kvar.metrics.revenue import mrr_movements

LISTINGS = Path(__file__).resolve().parents[1] / "data" / "fightchurn"
COUNTS = ("customers_start", "new_customers", "churned", "customers_end", "acquired")


def subscriptions(rows: list[tuple[str, dt.datetime, dt.datetime | None, float]]) -> duckdb.DuckDBPyRelation:
    table = pa.table(
        {
            "customer_id": [row[0] for row in rows],
            "started_at": [row[1] for row in rows],
            "ended_at": pa.array([row[2] for row in rows], pa.timestamp("us")),
            "mrr": [row[3] for row in rows],
        }
    )
    return duckdb.connect().from_arrow(table)


JAN, FEB, DEC = dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), dt.datetime(2023, 12, 1)
EDGES = [
    ("a", JAN, None, 10.0),  # starts exactly at the January boundary
    ("b", DEC, JAN, 20.0),  # ends exactly at it
    ("c", dt.datetime(2023, 12, 15), FEB, 30.0),  # ends exactly at the February boundary
    ("d", dt.datetime(2023, 11, 1), None, 40.0),  # a customer throughout
]


def january(boundary: str) -> dict:
    rows = rows_of(
        retention_table(
            subscriptions=subscriptions(EDGES), period="month", as_of=dt.datetime(2024, 3, 1), boundary=boundary
        )
    )
    return next({key: row[key] for key in COUNTS} for row in rows if row["period_start"] == JAN)


def test_just_before_the_instant_a_start_at_the_boundary_is_new_and_an_end_there_churns_in_the_next_period() -> None:
    # before Jan 1: b, c, d are customers (b ends at the instant itself); before Feb 1: a, c, d
    assert january("before") == {
        "customers_start": 3,
        "new_customers": 1,
        "churned": 1,
        "customers_end": 3,
        "acquired": 1,
    }


def test_at_the_instant_a_start_at_the_boundary_is_a_start_customer_and_an_end_there_is_gone() -> None:
    # at Jan 1: a, c, d (b has ended); at Feb 1: a, d (c has ended); a was acquired in (Dec 1, Jan 1]
    assert january("at") == {"customers_start": 3, "new_customers": 0, "churned": 1, "customers_end": 2, "acquired": 0}


def test_mrr_reads_the_boundary_the_same_way() -> None:
    def row(boundary: str) -> tuple:
        found = rows_of(
            mrr_movements(subscriptions(EDGES), period="month", as_of=dt.datetime(2024, 3, 1), boundary=boundary)
        )
        jan = next(r for r in found if r["period_start"] == JAN)
        return jan["mrr_start"], jan["new_mrr"], jan["churned_mrr"], jan["mrr_end"]

    assert row("before") == (90.0, 10.0, -20.0, 80.0)
    assert row("at") == (80.0, 0.0, -30.0, 50.0)


def test_an_unknown_boundary_is_refused() -> None:
    with pytest.raises(ParameterError, match="boundary: expected before or at"):
        retention_table(subscriptions=subscriptions(EDGES), boundary="after")


MONTHS = [dt.datetime(2023, month, 1) for month in range(1, 13)] + [dt.datetime(2024, 1, 1)]
days = st.integers(0, 364).map(lambda n: dt.datetime(2023, 1, 1) + dt.timedelta(days=n))
instants = st.one_of(days, st.sampled_from(MONTHS))  # often exactly at a boundary


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("pqrstu"), instants, st.one_of(st.none(), instants), st.integers(1, 90)),
        min_size=1,
        max_size=12,
    )
)
def test_the_instant_side_is_the_before_side_one_second_earlier(rows) -> None:
    """At the instant on the data = just before it on the data moved one second earlier (all times on a 1 s grid)."""
    rows = [(c, s, e, float(m)) for c, s, e, m in rows if e is None or e > s]
    if not rows:
        return
    second = dt.timedelta(seconds=1)
    earlier = [(c, s - second, e - second if e else None, m) for c, s, e, m in rows]
    as_of = dt.datetime(2024, 2, 1)

    def table(data, boundary, metric):
        found = rows_of(
            metric(subscriptions=data, period="month", as_of=as_of, boundary=boundary)
            if metric is retention_table
            else metric(data, period="month", as_of=as_of, boundary=boundary)
        )
        return {row["period_start"]: {k: v for k, v in row.items() if k not in ("period_end",)} for row in found}

    for metric in (retention_table, mrr_movements):
        at, before = table(subscriptions(rows), "at", metric), table(subscriptions(earlier), "before", metric)
        common = sorted(set(at) & set(before))
        assert common and [at[p] for p in common] == [before[p] for p in common]


def generated_business(seed: int = 11, accounts: int = 400) -> list[tuple[str, dt.date, dt.date | None, int]]:
    """Monthly subscriptions on a day grid, many starting or ending exactly on the 1st, whole-unit MRR."""
    rng = random.Random(seed)
    rows = []
    for number in range(accounts):
        start = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 330))
        if rng.random() < 0.3:
            start = start.replace(day=1)
        mrr = rng.choice([9, 19, 49, 99])
        while start < dt.date(2024, 6, 1):
            end = start + dt.timedelta(days=rng.choice([30, 31, 61, 92]))
            if rng.random() < 0.3:
                end = end.replace(day=1) if end.day != 1 else end
            if end <= start:
                break
            if rng.random() < 0.12:  # cancels
                rows.append((f"A{number}", start, end, mrr))
                break
            rows.append((f"A{number}", start, end if rng.random() < 0.95 else None, mrr))
            if rows[-1][2] is None:
                break
            start, mrr = end, max(1, mrr + rng.choice([-10, 0, 0, 0, 10, 20]))
    return rows


def gold(listing: str, connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict:
    """One listing between two dates, run in DuckDB as PostgreSQL runs it (PostgreSQL's ``float`` is double precision,
    DuckDB's single, so ``::float`` is read as ``::double``)."""
    sql = (
        (LISTINGS / listing)
        .read_text()
        .replace("%from_yyyy-mm-dd", start.isoformat())
        .replace("%to_yyyy-mm-dd", end.isoformat())
    )
    sql = sql.replace("::float", "::double")
    cursor = connection.execute(sql)
    return dict(zip([column[0].lower() for column in cursor.description], cursor.fetchone(), strict=True))


def test_the_at_side_equals_fighting_churn_with_datas_chapter_2_sql_to_the_last_digit() -> None:
    rows = generated_business()
    connection = duckdb.connect()
    connection.execute("CREATE TABLE subscription (account_id VARCHAR, start_date DATE, end_date DATE, mrr DOUBLE)")
    connection.executemany("INSERT INTO subscription VALUES (?, ?, ?, ?)", rows)
    as_instants = subscriptions(
        [
            (a, dt.datetime.combine(s, dt.time()), dt.datetime.combine(e, dt.time()) if e else None, float(m))
            for a, s, e, m in rows
        ]
    )
    as_of = dt.datetime(2024, 6, 1)
    retention = {
        row["period_start"].date(): row
        for row in rows_of(retention_table(subscriptions=as_instants, period="month", as_of=as_of, boundary="at"))
    }
    revenue = {
        row["period_start"].date(): row
        for row in rows_of(mrr_movements(as_instants, period="month", as_of=as_of, boundary="at"))
    }
    compared = 0
    for start, kept in retention.items():
        end = kept["period_end"].date()
        churn, net, mrr_churn = (
            gold(name, connection, start, end)
            for name in ("listing_2_2_churn_rate.sql", "listing_2_1_net_retention.sql", "listing_2_4_mrr_churn.sql")
        )
        if not churn["n_start"]:
            continue
        money = revenue[start]
        assert (kept["customers_start"], kept["churned"]) == (churn["n_start"], churn["n_churn"]), start
        assert kept["churn_rate"] / 100 == pytest.approx(churn["churn_rate"], rel=1e-15, abs=0)
        assert money["mrr_start"] == net["start_mrr"] == mrr_churn["start_mrr"]
        assert (
            -money["churned_mrr"] == mrr_churn["churn_mrr"] and -money["contraction_mrr"] == mrr_churn["downsell_mrr"]
        )
        assert (
            money["mrr_start"] + money["expansion_mrr"] + money["contraction_mrr"] + money["churned_mrr"]
            == net["retain_mrr"]
        )
        assert money["nrr"] / 100 == pytest.approx(net["net_mrr_retention_rate"], rel=1e-15, abs=0)
        assert 1 - money["grr"] / 100 == pytest.approx(mrr_churn["mrr_churn_rate"], rel=1e-12, abs=1e-15)
        compared += 1
    assert compared >= 12
