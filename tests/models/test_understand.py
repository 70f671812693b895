"""Segments, survival, voluntary/involuntary churn and churn risk, on hand-made data and on the demo
business, whose true churn drivers are known (usage decline, failed payments, channel, plan)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import duckdb
import polars as pl
import pytest

import kvar
from kvar.metrics.churn_causes import churn_causes
from kvar.metrics.churn_features import churn_features
from kvar.metrics.frames import rows_of
from kvar.metrics.lifetimes import customer_lifetimes
from kvar.metrics.segments import SEGMENT_RULES, rfm_segments, segment_summary
from kvar.models.churn_evaluation import assess_churn_risk
from kvar.models.survival import survival_analysis

T = dt.datetime


@pytest.fixture(scope="module")
def demo(demo_tables) -> dict:
    return demo_tables


def test_rfm_scores_and_segments_by_hand() -> None:
    # Ten customers: c0 bought long ago once; c9 bought yesterday, often, for a lot.
    rows = []
    for i in range(10):
        for k in range(i + 1):
            rows.append(
                {
                    "customer_id": f"c{i}",
                    "occurred_at": T(2024, 1, 1) + dt.timedelta(days=10 * i + k),
                    "amount": 10.0 * (i + 1),
                }
            )
    result = rfm_segments(pl.DataFrame(rows), as_of=T(2024, 5, 1)).to_dicts()
    by_id = {row["customer_id"]: row for row in result}
    assert [by_id[f"c{i}"]["r_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [by_id[f"c{i}"]["f_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert by_id["c9"]["segment"] == "Champions" and by_id["c0"]["segment"] == "Lost"
    assert by_id["c9"]["health_score"] == 100.0 and by_id["c0"]["health_score"] == 0.0
    assert by_id["c9"]["recency_days"] == 21  # last purchase April 9, last observed day April 30
    assert Counter(row["value_tier"] for row in result) == {"top": 2, "middle": 3, "low": 5}
    # Customer i spent 10 (i + 1) on each of i + 1 purchases: 10, 40, 90, ... 1000, 3,850 in all.
    summary = segment_summary(rfm_segments(pl.DataFrame(rows), as_of=T(2024, 5, 1))).to_dicts()
    assert [(r["segment"], r["customers"], r["revenue"], r["average_health"]) for r in summary] == [
        ("Champions", 4, 490.0 + 640 + 810 + 1000, 87.5),
        ("Hibernating", 2, 90.0 + 160, 25.0),
        ("Lost", 2, 10.0 + 40, 0.0),
        ("Loyal", 2, 250.0 + 360, 50.0),
    ]
    assert summary[0]["share_of_revenue"] == pytest.approx(2940 * 100 / 3850)
    assert summary[0]["share_of_customers"] == 40.0


@pytest.mark.parametrize("customers", [1, 2, 3, 4, 5, 6, 7, 9, 13, 25, 38])
def test_value_tiers_hold_20_and_50_percent_of_customers_rounded_half_to_even(customers: int) -> None:
    # Top: round(0.2 n) customers, top and middle: round(0.5 n), at least one each; 0.5 x 5 = 2.5 -> 2,
    # 0.5 x 7 = 3.5 -> 4, 0.5 x 13 = 6.5 -> 6 (half to even). Revenues all differ, so ranks do not tie.
    rows = [
        {"customer_id": f"c{i:02d}", "occurred_at": T(2024, 1, 1 + i % 28), "amount": 10.0 * (i + 1)}
        for i in range(customers)
    ]
    tiers = Counter(row["value_tier"] for row in rfm_segments(pl.DataFrame(rows), as_of=T(2024, 3, 1)).to_dicts())
    top, top_and_middle = max(1, round(0.2 * customers)), max(1, round(0.5 * customers))
    assert tiers["top"] == top
    assert tiers["top"] + tiers["middle"] == max(top, top_and_middle)
    assert sum(tiers.values()) == customers


def test_no_transaction_before_as_of_is_an_error() -> None:
    rows = [{"customer_id": "c1", "occurred_at": T(2024, 2, 1), "amount": 5.0}]
    with pytest.raises(kvar.KvarError, match="no transactions before 2024-01-01"):
        rfm_segments(pl.DataFrame(rows), as_of=T(2024, 1, 1))


def test_every_rfm_cell_has_a_named_segment() -> None:
    for r in range(1, 6):
        for fm in range(1, 6):
            assert any(lo_r <= r <= hi_r and lo_fm <= fm <= hi_fm for _, lo_r, hi_r, lo_fm, hi_fm in SEGMENT_RULES), (
                r,
                fm,
            )


def test_segments_run_on_cdnow(con, data_dir) -> None:
    master = con.table(kvar.load_file(con, "transactions", data_dir / "CDNOW_master.txt").accepted_table)
    rows = kvar.rows_of(rfm_segments(master))
    assert len(rows) == 23570
    assert {row["segment"] for row in rows} <= {name for name, *_ in SEGMENT_RULES}
    assert [row["customer_id"] for row in rows] == sorted(row["customer_id"] for row in rows)
    unordered = kvar.rows_of(rfm_segments(master, ordered=False))
    assert sorted(unordered, key=lambda row: row["customer_id"]) == rows
    assert kvar.rows_of(segment_summary(rfm_segments(master, ordered=False))) == kvar.rows_of(
        segment_summary(rfm_segments(master))
    )


def test_survival_by_hand() -> None:
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "started_at": [T(2024, 1, 1)] * 4,
            "ended_at": [T(2024, 1, 11), T(2024, 1, 21), None, T(2024, 1, 31)],
        }
    )
    lifetimes = customer_lifetimes(subscriptions=subs, as_of=T(2024, 3, 1))
    assert [(r["duration_days"], r["observed"]) for r in lifetimes.to_dicts()] == [
        (10, True),
        (20, True),
        (60, False),
        (30, True),
    ]
    analysis = survival_analysis(lifetimes, bucket_days=30)
    curve = {row["day"]: row["survival"] for row in analysis.curves}
    assert (
        curve[10.0] == pytest.approx(0.75) and curve[20.0] == pytest.approx(0.5) and curve[30.0] == pytest.approx(0.25)
    )
    assert analysis.medians[0]["median_lifetime_days"] == 20.0
    assert analysis.hazard[0] == {"segment": "all", "tenure_start_days": 0, "at_risk": 4, "ended": 2, "hazard": 0.5}


def test_survival_separates_the_channels_that_churn_most(demo) -> None:
    lifetimes = customer_lifetimes(subscriptions=demo["subscriptions"], by="channel", customers=demo["customers"])
    analysis = survival_analysis(lifetimes, by="channel")
    assert analysis.logrank["p_value"] < 0.01
    ended_share = {m["segment"]: m["ended"] / m["customers"] for m in analysis.medians}
    assert max(ended_share, key=ended_share.get) == "paid_search"


def test_involuntary_churn_by_hand() -> None:
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "started_at": [T(2024, 1, 1)] * 3,
            "ended_at": [T(2024, 3, 10), T(2024, 3, 20), T(2024, 3, 25)],
            "mrr": [10.0, 20.0, 30.0],
        }
    )
    payments = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "c"],
            "occurred_at": [T(2024, 3, 1), T(2024, 1, 5), T(2024, 3, 1), T(2024, 3, 5)],
            "status": ["failed", "failed", "failed", "succeeded"],
        }
    )
    (march,) = [
        r for r in churn_causes(subs, payments, as_of=T(2024, 4, 1)).to_dicts() if r["period_start"] == T(2024, 3, 1)
    ]
    # a: failed 9 days before leaving -> involuntary; b: failure too long before; c: paid after the failure.
    assert (march["churned"], march["involuntary"], march["voluntary"]) == (3, 1, 2)
    assert (march["involuntary_mrr_lost"], march["voluntary_mrr_lost"]) == (10.0, 50.0)


def test_churn_risk_beats_recency_and_finds_the_true_drivers(demo_features) -> None:
    features = duckdb.from_df(demo_features)  # the demo's features with every optional table, in DuckDB
    found = assess_churn_risk(features)
    evaluation = found.evaluation
    assert evaluation.auc > evaluation.baseline_auc + 0.03
    assert evaluation.auc > 0.7 and evaluation.top_decile_lift > 2.5
    top = [row["feature"] for row in found.drivers[:4]]
    assert {"events_30d", "activity_trend", "days_since_event"} & set(top[:2])
    assert "failed_payments_30d" in top
    # The scores come back as the features came in (a DuckDB relation), keyed by customer, riskiest first.
    assert isinstance(found.scores, duckdb.DuckDBPyRelation)
    scores = rows_of(found.scores)
    latest = max(row["observed_at"] for row in rows_of(features.select("observed_at").distinct()))
    assert {row["observed_at"] for row in scores} == {latest}
    assert len({row["customer_id"] for row in scores}) == len(scores)
    risks = [row["churn_probability"] for row in scores]
    assert risks == sorted(risks, reverse=True)
    assert any("failed payment" in reason for row in scores for reason in row["reasons"])


def test_features_never_look_past_the_observation_date(demo) -> None:
    full = churn_features(demo["subscriptions"], demo["events"], demo["payments"]).df()
    cut = sorted(full["observed_at"].unique())[2]
    # Delete every event and payment from the observation date on: features at that date must not change.
    events = demo["events"].filter(f"occurred_at < TIMESTAMP '{cut}'")
    payments = demo["payments"].filter(f"occurred_at < TIMESTAMP '{cut}'")
    truncated = churn_features(demo["subscriptions"], events, payments).df()
    columns = ["customer_id", "events_30d", "events_prev", "users_30d", "days_since_event", "failed_payments_30d"]
    before = full[full["observed_at"] == cut][columns].reset_index(drop=True)
    after = truncated[truncated["observed_at"] == cut][columns].reset_index(drop=True)
    assert len(before) > 100 and before.equals(after)
    assert (full["days_since_event"] >= 0).all() and (full["days_since_event"] <= 90).all()


def test_expansion_potential_by_hand() -> None:
    from kvar.metrics.expansion import expansion_potential

    at = T(2024, 3, 1)
    features = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "observed_at": [at] * 4,
            "plan": ["basic", "basic", "pro", "pro"],
            "mrr": [10.0, 10.0, 50.0, 50.0],
            "events_30d": [40.0, 5.0, 30.0, 10.0],
            "users_30d": [1.0, 1.0, 5.0, 2.0],
        }
    )
    subs = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "started_at": [T(2024, 1, 1)] * 4,
            "ended_at": [None] * 4,
            "quantity": [1.0, 1.0, 5.0, 10.0],
        },
        schema={
            "customer_id": pl.String,
            "started_at": pl.Datetime("us"),
            "ended_at": pl.Datetime("us"),
            "quantity": pl.Float64,
        },
    )
    found = expansion_potential(features, subs)
    assert isinstance(found, pl.DataFrame)
    rows = {row["customer_id"]: row for row in found.to_dicts()}
    # Pro customers' median usage is 20 events: a (40 on basic) qualifies, b (5) does not; pro is the top plan.
    assert rows["a"]["high_usage_on_low_plan"] and not rows["b"]["high_usage_on_low_plan"]
    assert rows["a"]["higher_plans_median_events"] == 20.0 and rows["c"]["higher_plans_median_events"] is None
    # Seats: a 1/1 and b 1/1 users fill their seat, c uses 5 of 5, d 2 of 10.
    assert [rows[c]["seats_near_limit"] for c in "abcd"] == [True, True, True, False]
    assert [rows[c]["expansion_potential"] for c in "abcd"] == [True, True, True, False]
