"""Pareto concentration, stickiness, NPS/CSAT, renewals and benchmarks by hand."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import polars as pl
import pytest

from kvar import (
    INDUSTRY_RETENTION,
    benchmark_comparison,
    pareto_concentration,
    renewal_rate,
    satisfaction_scores,
    stickiness,
)
from kvar.errors import ParameterError

T = dt.datetime


def test_pareto_by_hand() -> None:
    tx = pl.DataFrame(
        {"customer_id": list("abcdeaaaaa"), "amount": [10.0, 7.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 6.0]}
    )
    rows = pareto_concentration(tx).to_dicts()
    # a = 20, b = 7, c = 3, d = 1, e = 1 -> total 32; top 10 % and top 20 % of 5 customers are both 1 customer.
    assert [(r["top_customers_share"], r["top_customers"], r["top_revenue"], r["revenue_share"]) for r in rows] == [
        (10.0, 1, 20.0, 62.5),
        (20.0, 1, 20.0, 62.5),
    ]
    with pytest.raises(ParameterError):
        pareto_concentration(tx, shares=(1.5,))


def test_pareto_on_cdnow_matches_a_plain_python_count(data_dir) -> None:
    totals: dict[str, float] = defaultdict(float)
    with (data_dir / "CDNOW_master.txt").open() as handle:
        next(handle)
        for line in handle:
            customer, _, _, dollars = line.split()
            totals[customer] += float(dollars)
    ranked = sorted(totals.values(), reverse=True)
    top = math.ceil(0.2 * len(ranked))
    expected = sum(ranked[:top]) / sum(ranked) * 100
    frame = pl.DataFrame({"customer_id": list(totals), "amount": list(totals.values())})
    (row,) = [r for r in pareto_concentration(frame).to_dicts() if r["top_customers_share"] == 20.0]
    assert row["revenue_share"] == pytest.approx(expected)


def test_stickiness_counts_users_and_zero_days() -> None:
    events = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "user_id": ["u1", "u1", "u2", None, None],
            "occurred_at": [T(2024, 2, 1, 9), T(2024, 2, 1, 17), T(2024, 2, 2), T(2024, 2, 2), T(2024, 3, 1)],
            "event": ["login"] * 5,
        }
    )
    (february,) = [r for r in stickiness(events, as_of=T(2024, 3, 1)).to_dicts()]
    # actors u1, u2, b; daily actors: Feb 1 {u1}, Feb 2 {u2, b}; 29 days in February 2024.
    assert february["active"] == 3 and february["days"] == 29
    assert february["average_daily_active"] == pytest.approx(3 / 29)
    assert february["stickiness"] == pytest.approx(3 / 29 / 3 * 100)


def test_nps_and_csat() -> None:
    feedback = pl.DataFrame(
        {
            "customer_id": list("abcdefgh"),
            "occurred_at": [T(2024, 1, d) for d in range(1, 9)],
            "kind": ["nps", "NPS", "nps", "nps", "csat", "csat", "csat", "exit"],
            "score": [10.0, 9.0, 7.0, 3.0, 5.0, 4.0, 2.0, None],
        }
    )
    (january,) = satisfaction_scores(feedback, as_of=T(2024, 2, 1)).to_dicts()
    assert (january["promoters"], january["passives"], january["detractors"]) == (2, 1, 1)
    assert january["nps"] == pytest.approx(25.0)
    assert january["csat"] == pytest.approx(200 / 3)


def test_renewal_rate() -> None:
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "started_at": [T(2023, 1, 15), T(2024, 1, 15), T(2023, 1, 20), T(2023, 6, 1)],
            "ended_at": [T(2024, 1, 15), None, T(2024, 1, 20), None],
        }
    )
    (january,) = [r for r in renewal_rate(subs, as_of=T(2024, 2, 1)).to_dicts() if r["period_start"] == T(2024, 1, 1)]
    assert (january["ended"], january["renewed"], january["renewal_rate"]) == (2, 1, 50.0)


def test_benchmark_comparison_says_how_far_above_or_below_each_industry_is() -> None:
    # The industry averages themselves come from published round-ups (kvar.metrics.benchmarks' docstring);
    # what is tested here is the comparison: difference in percentage points, verdict, the chosen industry.
    rows = {r["industry"]: r for r in benchmark_comparison(80.0, "software")}
    assert set(rows) == {benchmark.industry for benchmark in INDUSTRY_RETENTION}
    for benchmark in INDUSTRY_RETENTION:
        row = rows[benchmark.industry]
        assert row["difference"] == pytest.approx(round(80.0 - benchmark.retention_rate, 1))
        assert row["verdict"] == ("above" if 80.0 > benchmark.retention_rate else "below")
    assert [industry for industry, row in rows.items() if row["selected"]] == ["software"]
    with pytest.raises(ParameterError):
        benchmark_comparison(80.0, "mining")
