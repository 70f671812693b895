"""Uplift: hand-computed counts, statsmodels' intervals, and coverage of a known true effect over many seeds."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from kvar.data.flow_history import simulate_flow_history
from kvar.flows.triggers import Tables
from kvar.flows.uplift import compare_rates, minimum_detectable_effect, uplift

T = dt.datetime
GOALS = {"winback": ("purchase_within", dt.timedelta(days=30))}


def test_goals_counted_only_inside_the_window_and_only_when_it_has_ended() -> None:
    entries = [
        {"flow": "winback", "customer_id": "a", "occurred_at": T(2024, 1, 1), "held_out": False},  # buys day 10
        {"flow": "winback", "customer_id": "b", "occurred_at": T(2024, 1, 1), "held_out": False},  # buys day 31
        {"flow": "winback", "customer_id": "c", "occurred_at": T(2024, 1, 1), "held_out": True},  # buys at entry
        {"flow": "winback", "customer_id": "d", "occurred_at": T(2024, 1, 1), "held_out": True},  # buys day 30
        {"flow": "winback", "customer_id": "e", "occurred_at": T(2024, 2, 20), "held_out": False},  # not judged yet
    ]
    purchases = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "occurred_at": [T(2024, 1, 11), T(2024, 2, 1), T(2024, 1, 1), T(2024, 1, 31), T(2024, 2, 21)],
            "amount": [10.0] * 5,
        }
    )
    (row,) = uplift(GOALS, Tables(transactions=purchases), entries, as_of=T(2024, 3, 1))
    # (occurred_at, occurred_at + 30 d]: a's day 10 and d's day 30 count; b's day 31 and c's instant of entry do not
    assert (row["treated"], row["treated_goals"], row["held_out"], row["held_out_goals"]) == (2, 1, 2, 1)
    assert row["uplift"] == 0.0 and row["rate_treated"] == 0.5


def test_intervals_are_statsmodels_newcombe_and_log_ratio() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    rates = compare_rates(180, 1000, 12, 100)
    low, high = confint_proportions_2indep(180, 1000, 12, 100, compare="diff", method="newcomb")
    assert (rates["uplift_low"], rates["uplift_high"]) == pytest.approx((low, high))
    assert rates["uplift"] == pytest.approx(0.18 - 0.12)
    assert rates["relative_uplift"] == pytest.approx(0.18 / 0.12 - 1)
    assert rates["uplift_low"] < rates["uplift"] < rates["uplift_high"]


def test_the_minimum_detectable_effect_matches_the_textbook_formula() -> None:
    # Equal groups of n, baseline p0: Cohen's h = (z_0.975 + z_0.8) * sqrt(2 / n); p1 = sin(asin(sqrt p0) + h/2)^2
    n, p0 = 2000, 0.10
    h = (1.959964 + 0.841621) * math.sqrt(2 / n)
    expected = math.sin(math.asin(math.sqrt(p0)) + h / 2) ** 2 - p0
    assert minimum_detectable_effect(p0, n, n) == pytest.approx(expected, rel=1e-4)
    assert minimum_detectable_effect(p0, 200, 200) > minimum_detectable_effect(p0, 2000, 2000)


@pytest.mark.slow  # 300 simulated flows through the engine
def test_the_interval_covers_the_true_effect_about_95_percent_of_the_time() -> None:
    seeds, covered = 300, 0
    for seed in range(seeds):
        history = simulate_flow_history(customers=1500, holdout=0.2, base_rate=0.12, effect=0.05, seed=seed)
        tables = Tables(transactions=pl.DataFrame(history.purchases))
        (row,) = uplift(GOALS, tables, history.entries, as_of=T(2026, 12, 31), revenue=False)
        covered += row["uplift_low"] <= history.effect <= row["uplift_high"]
    # 300 draws of a 95 % interval: a binomial share with a standard error of 1.26 points
    print(f"\n95 % interval covered the true uplift in {covered} of {seeds} simulated flows")
    assert 0.91 <= covered / seeds <= 0.99, covered / seeds


def test_kvar_flows_uplift_reads_the_ledger(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from kvar import Workspace
    from kvar.cli import app
    from kvar.flows.ledger import Ledger

    history = simulate_flow_history(customers=400, holdout=0.25, base_rate=0.1, effect=0.1, seed=3)
    pl.DataFrame(history.purchases).write_csv(tmp_path / "transactions.csv")
    with Workspace.create(tmp_path / "shop.duckdb") as space:
        space.load("transactions", tmp_path / "transactions.csv", {})
    ledger = Ledger(f"sqlite:///{tmp_path / 'shop.flows.sqlite'}")
    ledger.record_history("winback", history.entries, GOALS["winback"])
    ledger.close()
    result = CliRunner().invoke(app, ["flows", "uplift", "--workspace", str(tmp_path / "shop.duckdb"), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["rows"]
    assert row["treated"] + row["held_out"] == 400
    assert row["held_out"] == sum(e["held_out"] for e in history.entries)
    assert row["uplift_low"] <= row["uplift"] <= row["uplift_high"]
