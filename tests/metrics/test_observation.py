"""How far data are observed: scheduled subscription ends are not churn; yearly retention over the window."""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections import defaultdict

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import kvar
from kvar.cli import app
from kvar.errors import InputError
from kvar.metrics.frames import rows_of
from kvar.metrics.lifetimes import customer_lifetimes
from kvar.metrics.retention import window_retention
from tests.conftest import ts


def subscriptions(con, rows: list[tuple]) -> object:
    return con.from_arrow(
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "started_at": pa.array([ts(r[1]) for r in rows], pa.timestamp("us")),
                "ended_at": pa.array([ts(r[2]) if r[2] else None for r in rows], pa.timestamp("us")),
                "mrr": [float(r[3]) for r in rows],
            }
        )
    )


# Ten annual customers paid through 2025 (ends scheduled after the data), one real cancellation in March,
# the latest start on 2024-06-14: the data end there.
SAAS = [(f"c{n}", f"2024-01-{n + 1:02d}", f"2025-01-{n + 1:02d}", 100) for n in range(10)] + [
    ("x", "2024-01-20", "2024-03-10", 50),
    ("y", "2024-06-14", None, 70),
]


def test_scheduled_ends_are_not_churn_and_measurement_stops_at_the_last_observed_moment(con) -> None:
    table = rows_of(kvar.retention_table(subscriptions=subscriptions(con, SAAS), period="month"))
    assert table[-1]["period_start"] == dt.datetime(2024, 5, 1)  # June is not complete on 2024-06-15
    assert sum(row["churned"] for row in table) == 1  # x, in March; the ten scheduled ends are not churn
    mrr = rows_of(kvar.mrr_movements(subscriptions(con, SAAS), period="month"))
    assert mrr[-1]["mrr_end"] == 1000.0 and sum(row["churned_mrr"] for row in mrr) == -50.0
    lifetimes = {row["customer_id"]: row for row in rows_of(customer_lifetimes(subscriptions=subscriptions(con, SAAS)))}
    assert not lifetimes["c0"]["observed"] and lifetimes["x"]["observed"]


def test_cli_says_which_ends_are_scheduled_and_loads_them(tmp_path) -> None:
    path = tmp_path / "subs.csv"
    path.write_text(
        "customer_id,started_at,ended_at,mrr\n" + "".join(f"{c},{s},{e or ''},{m}\n" for c, s, e, m in SAAS)
    )
    result = CliRunner().invoke(app, ["retention", "--subscriptions", str(path), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["loads"][0]["rows_rejected"] == 0  # a future end is scheduled, not "in the future"
    assert document["parameters"]["as_of"] == "2024-06-15T00:00:00"
    assert document["notes"] == [
        "as of 2024-06-15 00:00 (the last observed moment: the end of the day of the latest started_at); "
        "10 subscription end(s) after it are scheduled, not churn yet"
    ]


def test_window_retention_counts_customers_who_lapse_and_return(con) -> None:
    rows = [
        ("a", "2023-01-05"),
        ("a", "2023-06-01"),
        ("a", "2023-12-20"),  # lapses in the year, back by its end
        ("b", "2022-12-20"),
        ("c", "2023-03-01"),
        ("c", "2023-12-28"),
        ("d", "2023-12-31"),
    ]
    orders = con.from_arrow(
        pa.table(
            {"customer_id": [r[0] for r in rows], "occurred_at": [ts(r[1]) for r in rows], "amount": [1.0] * len(rows)}
        )
    )
    (year,) = rows_of(window_retention(orders, months=12, inactivity="30d", as_of=dt.datetime(2024, 1, 1)))
    # At 2023-01-01 active: b (20 Dec + 30 d). At 2024-01-01: a, c, d. So start 1, new 3, retained 0.
    assert (year["period_start"], year["customers_start"], year["new_customers"], year["customers_end"]) == (
        dt.datetime(2023, 1, 1),
        1,
        3,
        3,
    )
    assert year["retention_rate"] == 0.0
    (year,) = rows_of(window_retention(orders, months=11, inactivity="30d", as_of=dt.datetime(2024, 1, 1)))
    # 2023-02-01 start: a (5 Jan + 30 d = 4 Feb); a is active again at the end: retained though it lapsed.
    assert (year["customers_start"], year["customers_end"] - year["new_customers"]) == (1, 1) and year[
        "retention_rate"
    ] == 100.0


def test_cdnow_yearly_retention_equals_the_window_count(data_dir, con) -> None:
    """32.6 %: customers active on 1997-07-01 (a purchase in the 90 days before), and of those, active on
    1998-07-01, counted here in plain Python from the raw file."""
    purchases: dict[str, list[dt.datetime]] = defaultdict(list)
    with (data_dir / "CDNOW_master.txt").open() as handle:
        for line in list(handle)[1:]:
            customer, day, _, _ = line.split()
            purchases[customer].append(dt.datetime.strptime(day, "%Y%m%d"))

    def active(times: list[dt.datetime], boundary: dt.datetime) -> bool:
        times = sorted(times)
        return bisect.bisect_left(times, boundary) > bisect.bisect_left(times, boundary - dt.timedelta(days=90))

    start, end = dt.datetime(1997, 7, 1), dt.datetime(1998, 7, 1)
    at_start = {c for c, times in purchases.items() if active(times, start)}
    kept = {c for c in at_start if active(purchases[c], end)}
    loaded = kvar.load_file(con, "transactions", data_dir / "CDNOW_master.txt")
    (year,) = rows_of(window_retention(con.table(loaded.accepted_table), inactivity="90d"))
    assert (year["period_start"], year["period_end"]) == (start, end)
    assert year["customers_start"] == len(at_start) and year["customers_end"] - year["new_customers"] == len(kept)
    assert year["retention_rate"] == pytest.approx(len(kept) * 100 / len(at_start)) == pytest.approx(32.6, abs=0.05)


def test_window_retention_needs_a_full_window(con) -> None:
    orders = con.from_arrow(pa.table({"customer_id": ["a"], "occurred_at": [ts("2024-03-01")], "amount": [1.0]}))
    with pytest.raises(InputError, match="needs data from before"):
        window_retention(orders, as_of=dt.datetime(2024, 9, 1))
