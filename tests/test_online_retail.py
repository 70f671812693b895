"""The whole UCI Online Retail file through the CLI: the same tables on every run, equal to a count
written here from the published definitions (plain Python over the raw lines, no kvar code)."""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import gzip
import itertools
import json
from collections import defaultdict
from functools import cache

import duckdb
import pytest
from typer.testing import CliRunner

import kvar
from kvar.cli import app

pytestmark = pytest.mark.slow
FILE = "online_retail_dates_restored.csv.gz"
MAPPING = ["--map", "amount=Quantity*UnitPrice", "--map", "transaction_id=InvoiceNo"]


@cache
def purchase_times(path: str) -> dict[str, list[dt.datetime]]:
    """Per customer, the times of their purchases: invoices (lines with the same InvoiceNo, exact repeated
    lines counted once) whose net amount is not negative; lines without a CustomerID are not loaded."""
    lines: set[tuple] = set()
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["CustomerID"]:
                lines.add(
                    (
                        row["InvoiceNo"],
                        row["CustomerID"],
                        row["InvoiceDate"],
                        row["StockCode"],
                        row["Quantity"],
                        float(row["Quantity"]) * float(row["UnitPrice"]),
                    )
                )
    invoices: dict[tuple[str, str], list] = {}
    for invoice, customer, moment, _, _, amount in lines:
        entry = invoices.setdefault((customer, invoice), [dt.datetime.fromisoformat(moment), 0.0])
        entry[0] = min(entry[0], dt.datetime.fromisoformat(moment))
        entry[1] += amount
    times: dict[str, list[dt.datetime]] = defaultdict(list)
    for (customer, _), (moment, amount) in invoices.items():
        if amount >= 0:
            times[customer].append(moment)
    return {customer: sorted(values) for customer, values in times.items()}


def month_starts() -> list[dt.datetime]:
    """Month boundaries of the data (2010-12-01 to 2011-12-09): through the last one by the end of its last day."""
    points, month, as_of = [], dt.datetime(2010, 12, 1), dt.datetime(2011, 12, 10)
    while month <= as_of:
        points.append(month)
        month = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
    return points


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_retention_is_identical_on_every_run_and_equals_an_independent_count(data_dir) -> None:
    path = str(data_dir / FILE)
    runs = [
        run("retention", "--transactions", path, *MAPPING, "--period", "month", "--inactivity", "90d")["rows"]
        for _ in range(3)
    ]
    assert runs[0] == runs[1] == runs[2]
    times = purchase_times(path)
    boundaries = month_starts()

    def active(customer: str, boundary: dt.datetime) -> bool:  # a purchase t with boundary - 90 d <= t < boundary
        values = times[customer]
        return bisect.bisect_left(values, boundary) > bisect.bisect_left(values, boundary - dt.timedelta(days=90))

    expected = []
    for start, end in itertools.pairwise(boundaries):
        before = {c for c in times if active(c, start)}
        after = {c for c in times if active(c, end)}
        expected.append((start.isoformat(), len(before), len(after - before), len(before - after), len(after)))
    got = [
        (r["period_start"], r["customers_start"], r["new_customers"], r["churned"], r["customers_end"]) for r in runs[0]
    ]
    assert got == expected
    assert len(got) == 12


def test_cohorts_are_identical_on_every_run_and_equal_an_independent_count(data_dir) -> None:
    path = str(data_dir / FILE)
    runs = [run("cohorts", "--transactions", path, *MAPPING, "--period", "month")["rows"] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    times = purchase_times(path)
    index = {c: sorted({t.year * 12 + t.month - 1 for t in values}) for c, values in times.items()}
    last = 2011 * 12 + 11 - 1  # the last complete month by 2011-12-10 is November 2011
    cells: dict[tuple[int, int], int] = defaultdict(int)
    for months in index.values():
        for month in months:
            if month <= last:
                cells[(months[0], month - months[0])] += 1
    got = {
        (
            dt.datetime.fromisoformat(r["cohort"]).year * 12 + dt.datetime.fromisoformat(r["cohort"]).month - 1,
            r["period_offset"],
        ): r["value"]
        for r in runs[0]
        if r["value"]
    }
    assert got == dict(cells)


def test_repeat_purchase_rate_counts_orders_not_lines(data_dir) -> None:
    times = purchase_times(str(data_dir / FILE))
    repeaters = sum(len(values) > 1 for values in times.values())
    con = duckdb.connect()
    loaded = kvar.load_file(
        con, "transactions", data_dir / FILE, {"amount": "Quantity*UnitPrice", "transaction_id": "InvoiceNo"}
    )
    (row,) = kvar.rows_of(kvar.repeat_purchase_rate(con.table(loaded.accepted_table)))
    assert (row["customers"], row["repeat_customers"]) == (len(times), repeaters)
    assert row["repeat_purchase_rate"] == pytest.approx(65.57, abs=0.01)  # 98.4 % when every line counted
