"""Every metric gives identical results on DuckDB (the default), PySpark, Polars and pandas.

The same demo business and the CDNOW sample are handed to each engine; results are compared row by row
after normalising types (Spark returns UTC-aware timestamps, engines differ in integer widths).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import kvar
from kvar.data.demo import generate
from kvar.data.workspace import Workspace
from kvar.metrics.churn_causes import churn_causes
from kvar.metrics.lifetimes import customer_lifetimes
from kvar.metrics.segments import rfm_segments

METRICS: dict[str, Any] = {
    "retention_transactions": lambda t: kvar.retention_table(
        t["transactions"], period="month", inactivity="45d", by="channel", customers=t["customers"]
    ),
    "retention_subscriptions": lambda t: kvar.retention_table(
        subscriptions=t["subscriptions"], period="quarter", grace="7d", by="plan"
    ),
    "retention_weekly": lambda t: kvar.retention_table(t["transactions"], period="week", inactivity="30d"),
    "mrr": lambda t: kvar.mrr_movements(t["subscriptions"], period="month"),
    "mrr_by_country": lambda t: kvar.mrr_movements(
        t["subscriptions"], period="quarter", by="country", customers=t["customers"]
    ),
    "cohorts_customers": lambda t: kvar.cohort_table(
        t["transactions"], period="month", by="channel", customers=t["customers"]
    ),
    "cohorts_revenue": lambda t: kvar.cohort_table(
        t["transactions"], period="quarter", value="revenue", cumulative=True
    ),
    "summary": lambda t: kvar.customer_summary(
        t["transactions"], freq="D", unit="W", calibration_end=dt.date(2025, 12, 31)
    ),
    "summary_weekly": lambda t: kvar.customer_summary(t["transactions"], freq="W"),
    "purchase_activity": lambda t: kvar.purchase_activity(t["transactions"], period="month"),
    "repeat_purchase_rate": lambda t: kvar.repeat_purchase_rate(
        t["transactions"], by="channel", customers=t["customers"]
    ),
    "pareto": lambda t: kvar.pareto_concentration(t["transactions"]),
    "historical_ltv": lambda t: kvar.historical_ltv(t["transactions"], period="quarter"),
    "unit_economics": lambda t: kvar.unit_economics(t["subscriptions"], gross_margin=0.8),
    "renewal_rate": lambda t: kvar.renewal_rate(t["subscriptions"]),
    "stickiness": lambda t: kvar.stickiness(t["events"]),
    "satisfaction": lambda t: kvar.satisfaction_scores(
        t["feedback"], period="quarter", by="plan", customers=t["customers"]
    ),
    "churn_causes": lambda t: churn_causes(t["subscriptions"], t["payments"], period="quarter"),
    "rfm_segments": lambda t: rfm_segments(t["transactions"]),
    "lifetimes": lambda t: customer_lifetimes(subscriptions=t["subscriptions"], by="channel", customers=t["customers"]),
    "cdnow_summary": lambda t: kvar.customer_summary(
        t["cdnow"], freq="D", unit="W", calibration_end=dt.date(1997, 9, 30)
    ),
    "cdnow_retention": lambda t: kvar.retention_table(t["cdnow"], period="quarter", inactivity="90d"),
}


@pytest.fixture(scope="session")
def arrow_tables(tmp_path_factory, data_dir) -> dict[str, pa.Table]:
    folder = tmp_path_factory.mktemp("demo")
    paths = generate(customers=250, seed=11).write(folder / "data")
    tables: dict[str, pa.Table] = {}
    with Workspace.create(folder / "ws.duckdb") as space:
        for name in ("customers", "subscriptions", "transactions", "events", "feedback", "payments"):
            space.load(name, paths[name])
            relation = space.table(name)
            keep = [c for c in relation.columns if c not in ("source_file", "source_row")]
            tables[name] = relation.select(", ".join(f'"{c}"' for c in keep)).to_arrow_table()
    con = duckdb.connect()
    cdnow = kvar.load_file(con, "transactions", data_dir / "CDNOW_sample.txt")
    tables["cdnow"] = con.table(cdnow.accepted_table).select("customer_id, occurred_at, amount").to_arrow_table()
    return tables


def frames_for(engine: str, tables: dict[str, pa.Table], request: pytest.FixtureRequest) -> dict[str, Any]:
    if engine == "duckdb":
        con = duckdb.connect()
        return {name: con.from_arrow(table) for name, table in tables.items()}
    if engine == "polars":
        return {name: pl.from_arrow(table).lazy() for name, table in tables.items()}
    if engine == "pandas":
        return {name: table.to_pandas() for name, table in tables.items()}
    spark = request.getfixturevalue("spark")
    return {name: spark.createDataFrame(table) for name, table in tables.items()}


def normalise(rows: list[dict[str, Any]]) -> list[tuple]:
    def cell(value: Any) -> Any:
        if isinstance(value, float):
            return None if math.isnan(value) else round(value, 6)
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value is pd.NaT:
            return None
        return value

    out = [tuple((key, cell(value)) for key, value in sorted(row.items())) for row in rows]
    return sorted(out, key=repr)


@pytest.fixture(scope="session")
def reference(arrow_tables) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    frames = {name: con.from_arrow(table) for name, table in arrow_tables.items()}
    return {name: normalise(kvar.rows_of(metric(frames))) for name, metric in METRICS.items()}


@pytest.mark.parametrize(
    "engine",
    ["polars", pytest.param("pandas", marks=pytest.mark.slow), pytest.param("spark", marks=pytest.mark.spark)],
)
def test_every_metric_is_identical_on_every_engine(engine, arrow_tables, reference, request) -> None:
    frames = frames_for(engine, arrow_tables, request)
    mismatched = []
    for name, metric in METRICS.items():
        result = metric(frames)
        if engine == "polars":
            assert isinstance(result, pl.LazyFrame), name  # lazy in, lazy out
        if engine == "pandas":
            assert isinstance(result, pd.DataFrame), name  # eager in, eager out
            assert list(result.index) == list(range(len(result))), name
        if normalise(kvar.rows_of(result)) != reference[name]:
            mismatched.append(name)
    assert mismatched == []


def test_reference_results_are_not_empty(reference) -> None:
    assert all(reference[name] for name in METRICS)
