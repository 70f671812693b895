"""Models that do not fit say so in one line with what to use instead; figures never print nonsense."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kvar.data.demo import generate
from kvar.errors import ModelFitError, ParameterError
from kvar.metrics.benchmarks import benchmark_comparison
from kvar.models import BetaGeo, ParetoNBD, ShiftedBetaGeometric
from kvar.models.churn_risk import ChurnRisk
from kvar.models.clv import customer_value, fitted_model
from kvar.report.kpis import signed


def clockwork_summary(customers: int = 300) -> pd.DataFrame:
    """Customers who buy every 30 days like a subscription charge: no spread in rate, no dropout."""
    rows = []
    for number in range(customers):
        months = 3 + number % 20
        rows.append(
            {
                "customer_id": f"c{number}",
                "frequency": months,
                "recency": months * 30.0,
                "T": months * 30.0 + 10,
                "monetary_value": 29.0,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_purchase_models_refuse_recurring_charges_and_name_the_contractual_tools(model) -> None:
    with pytest.raises(ModelFitError, match="kvar sbg --subscriptions") as caught:
        customer_value(clockwork_summary(), model=model, unit="D")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("fit", [customer_value, fitted_model])
def test_an_unknown_model_is_refused_before_the_summary_is_read(fit) -> None:
    with pytest.raises(ParameterError, match="expected bgnbd, pareto or gg, got 'bgbnd'"):
        fit("not a frame: reading it would fail differently", model="bgbnd")


@pytest.mark.slow  # a fresh interpreter
def test_clv_on_the_demo_subscription_business_exits_2_with_one_line(tmp_path) -> None:
    paths = generate(customers=400, seed=2).write(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "kvar", "clv", "--transactions", str(paths["transactions"]), "--json"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "kvar sbg" in error_lines[0] and "Traceback" not in result.stderr
    assert "Warning" not in result.stderr  # no numpy warnings leak


def test_sbg_says_when_churn_does_not_fall_with_tenure() -> None:
    # Churn rising with tenure (1, 2, 4, 8, 16 % of the starters): sBG's Beta mixture cannot produce it.
    survivors = [1000, 990, 970, 930, 850, 690]
    with pytest.raises(ModelFitError, match="kvar survival"):
        ShiftedBetaGeometric().fit_arrays(survivors)


def test_published_fits_are_not_mistaken_for_misfits(data_dir) -> None:
    summary = pd.read_csv(data_dir / "cdnow_customers_summary.csv")
    # r as published by Fader, Hardie & Lee (2005), Marketing Science 24(2), for both models.
    assert BetaGeo().fit(summary).params_["r"] == pytest.approx(0.243, abs=1e-3)
    assert ParetoNBD().fit(summary).params_["r"] == pytest.approx(0.553, abs=1e-3)


def test_signed_figures_never_show_a_sign_on_zero() -> None:
    assert [signed(value) for value in (12.4, -3.2, 0.0, 0.3, -0.4)] == ["+12", "-3", "0", "0", "0"]
    assert signed(-0.04, 1) == "0.0" and signed(2.25, 1) == "+2.2"


def test_a_tie_with_a_benchmark_is_equal_not_minus_zero_below() -> None:
    software = next(row for row in benchmark_comparison(76.96) if row["industry"] == "software")
    assert (software["difference"], software["verdict"]) == (0.0, "equal") and str(software["difference"]) == "0.0"
    software = next(row for row in benchmark_comparison(76.9) if row["industry"] == "software")
    assert (software["difference"], software["verdict"]) == (-0.1, "below")


@pytest.fixture(scope="module")
def risk_table(demo_features) -> pd.DataFrame:
    return demo_features


def test_top_risk_scores_keep_their_order_and_missing_values_read_as_words(risk_table) -> None:
    model = ChurnRisk(max_iter=60).fit(risk_table)
    scores = model.score_latest(risk_table).to_dict("records")
    top = [row["churn_probability"] for row in scores[:10]]
    assert len(set(np.round(top, 6))) > 1 and max(top) < 1.0  # calibration does not collapse the top onto 1.000
    assert all(a >= b for a, b in itertools.pairwise(top))
    reasons = [reason for row in scores for reason in row["reasons"]]
    assert reasons and not any("nan" in reason.lower() for reason in reasons)
    shuffled = risk_table.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = ChurnRisk(max_iter=60).fit(shuffled).score_latest(shuffled)
    assert list(again["customer_id"][:20]) == [row["customer_id"] for row in scores[:20]]
