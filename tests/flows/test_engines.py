"""Decisions run where the data is: the same flows decided on DuckDB, Polars and Spark give the same messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from kvar.flows.decide import decide
from kvar.flows.spec import read_flows
from kvar.flows.triggers import Tables

FLOWS = """
channels:
  email: {smtp_url: "smtp://127.0.0.1:2525", from: "Shop <hello@shop.example>"}
policies:
  caps: {email: {per_day: 1, per_week: 3}}
  quiet_hours: {start: "21:00", end: "08:00", timezone: Europe/Stockholm}
  holdout: {global: 0.05}
flows:
  - {name: welcome, trigger: {acquired: true}, steps: [{email: {template: n.html.j2}}]}
  - name: winback
    trigger: {inactive_for: 60d}
    audience: {segment: [At Risk, Hibernating, Lost]}
    holdout: 0.1
    steps: [{email: {template: n.html.j2}}, {wait: 7d}, {email: {template: n.html.j2, unless: purchased}}]
  - {name: anniversary, trigger: {anniversary_of: acquired_at}, steps: [{email: {template: n.html.j2}}]}
  - {name: renewal, trigger: {before_renewal: 14d}, steps: [{email: {template: n.html.j2}}]}
  - {name: detractors, trigger: {nps_detractor: true}, steps: [{email: {template: n.html.j2}}]}
  - {name: dunning, kind: transactional, trigger: {payment_failed: true}, steps: [{email: {template: n.html.j2}}]}
"""
AS_OF, SINCE = dt.datetime(2026, 7, 1), dt.datetime(2026, 5, 1)


def _decided(tmp_path: Path, tables: Tables) -> list[tuple]:
    (tmp_path / "flows.yaml").write_text(FLOWS)
    (tmp_path / "n.html.j2").write_text("<p>Hi</p>")
    rows = decide(read_flows(tmp_path / "flows.yaml"), tables, as_of=AS_OF, since=SINCE).rows
    return sorted((r["key"], r["scheduled_at"], r["decision"], r["reason"]) for r in rows)


def _tables(demo_tables, convert) -> Tables:
    names = ("transactions", "subscriptions", "feedback", "payments", "customers")
    return Tables(**{name: convert(demo_tables[name]) for name in names})


def test_polars_decides_as_duckdb(tmp_path, demo_tables) -> None:
    on_duckdb = _decided(tmp_path, _tables(demo_tables, lambda relation: relation))
    on_polars = _decided(tmp_path, _tables(demo_tables, lambda relation: pl.from_arrow(relation.arrow()).lazy()))
    assert on_duckdb == on_polars and len({key.split(":")[0] for key, *_ in on_duckdb}) >= 5


@pytest.mark.spark
def test_spark_decides_as_duckdb(tmp_path, demo_tables, spark) -> None:
    on_duckdb = _decided(tmp_path, _tables(demo_tables, lambda relation: relation))
    on_spark = _decided(tmp_path, _tables(demo_tables, lambda relation: spark.createDataFrame(relation.df())))
    assert on_duckdb == on_spark
