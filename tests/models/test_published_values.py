"""The CLV and retention models reproduce the published estimates (CDNOW papers, Fader & Hardie 2007).

Every number asserted here names its source: the paper and section, a note of Hardie's, the BTYD package's
walkthrough, or (marked as such) a value on which independent implementations agree
(tests/data/README.md).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import optimize

from kvar.errors import InputError
from kvar.models import BetaGeo, GammaGamma, ParetoNBD, ShiftedBetaGeometric


def last_digit(value: float, published: float, decimals: int) -> None:
    """Within 1.5 units of the published value's last printed digit."""
    assert abs(value - published) <= 1.5 * 10 ** (-decimals), (value, published)


@pytest.fixture(scope="module")
def cdnow(data_dir) -> dict[str, np.ndarray]:
    with (data_dir / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in ("x", "t_x", "T", "zbar")}


@pytest.fixture(scope="module")
def bgnbd(cdnow) -> BetaGeo:
    return BetaGeo().fit_arrays(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def pareto(cdnow) -> ParetoNBD:
    return ParetoNBD().fit_arrays(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_paper_values(bgnbd) -> None:
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2), section 5:
    # r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 on the CDNOW sample.
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        last_digit(bgnbd.params_[name], value, 3)
    last_digit(bgnbd.log_likelihood_, -9582.4, 1)


def test_bgnbd_predictions(bgnbd) -> None:
    # Customer 1 (x = 2, t_x = 30.43, T = 38.86) at the paper's rounded parameters: 1.226 purchases in the next
    # 39 weeks, the value of Hardie's BG/NBD spreadsheet note ("Implementing the BG/NBD model in Excel").
    published = BetaGeo()
    published.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert published.expected_purchases_arrays(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)
    # At the MLE: values on which three independent implementations agree (the data README: an own scipy
    # fit, lifetimes 0.11.3 and PyMC-Marketing 0.19.2 with flat priors), not values recorded off kvar.
    assert bgnbd.probability_alive_arrays(2, 30.43, 38.86) == pytest.approx(0.7266, abs=1e-4)
    assert bgnbd.expected_purchases_new_customer([1, 3, 39, 78]) == pytest.approx(
        [0.0532, 0.1506, 1.1951, 1.858], abs=1e-3
    )


def test_pareto_nbd_paper_values(pareto) -> None:
    # Fader, Hardie & Lee (2005), Marketing Science 24(2), section 5, the Pareto/NBD benchmark:
    # r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0.
    for name, value in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        last_digit(pareto.params_[name], value, 3)
    last_digit(pareto.log_likelihood_, -9595.0, 1)


def test_pareto_nbd_predictions(pareto) -> None:
    # The R package BTYD's walkthrough (Dziurzynski, Wadsworth & McCarthy): a customer with x = 26,
    # t_x = 30.86, T = 31 is alive with probability 0.9979 and makes 25.46 purchases in the next 52 weeks.
    assert pareto.probability_alive_arrays(26, 30.86, 31) == pytest.approx(0.9979, abs=1e-4)
    assert pareto.expected_purchases_arrays(52, 26, 30.86, 31) == pytest.approx(25.46, abs=0.01)
    # Customer 1 at the MLE, agreed by the independent implementations of the data README.
    assert pareto.probability_alive_arrays(2, 30.43, 38.86) == pytest.approx(0.8691, abs=1e-4)
    assert pareto.expected_purchases_arrays(39, 2, 30.43, 38.86) == pytest.approx(1.4551, abs=1e-3)


def test_models_agree_on_the_holdout_as_in_the_paper(bgnbd, pareto, cdnow) -> None:
    # Fader, Hardie & Lee (2005), section 5: over the 39-week holdout the 1,411 customers with no repeat
    # purchase are expected to make 0.23 (BG/NBD) and 0.14 (Pareto/NBD) purchases each; the two models'
    # conditional expectations correlate at 0.996.
    zero = cdnow["x"] == 0
    bg = bgnbd.expected_purchases_arrays(39, cdnow["x"], cdnow["t_x"], cdnow["T"])
    pn = pareto.expected_purchases_arrays(39, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert zero.sum() == 1411
    assert round(bg[zero].mean(), 2) == 0.23 and round(pn[zero].mean(), 2) == 0.14
    assert np.corrcoef(bg, pn)[0, 1] == pytest.approx(0.996, abs=6e-4)


def test_gamma_gamma_paper_values(cdnow) -> None:
    # Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", JMR 42(4), and Fader & Hardie's
    # note 025 ("The Gamma-Gamma model of monetary value"): p = 6.25, q = 3.74, gamma = 15.44.
    model = GammaGamma().fit_arrays(cdnow["x"], cdnow["zbar"])
    last_digit(model.params_["p"], 6.25, 2)
    last_digit(model.params_["q"], 3.74, 2)
    last_digit(model.params_["gamma"], 15.44, 2)
    # LL of the density of zbar with its Jacobian terms, as lifetimes 0.11.3 and PyMC-Marketing report it.
    assert model.log_likelihood_ == pytest.approx(-4055.92, abs=0.01)
    # Note 025's spreadsheet: expected mean spend of customers 1-10 (24.65, 18.91, 35.17, ...; 24.66 at the MLE).
    spend = model.expected_spend_arrays(cdnow["x"][:10], cdnow["zbar"][:10])
    assert spend == pytest.approx([24.66, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17], abs=0.01)
    assert abs(model.frequency_spend_correlation_) < 0.2  # the model's independence assumption holds


@pytest.mark.parametrize(
    ("column", "alpha", "beta", "log_likelihood"),
    [("regular", 0.704, 1.182, -1680.27), ("high_end", 0.668, 3.806, -1611.16)],
)
def test_sbg_reproduces_fader_hardie_2007(data_dir, column, alpha, beta, log_likelihood) -> None:
    # Fader & Hardie (2007), "How to project customer retention", Journal of Interactive Marketing 21(1):
    # the estimates for the regular and high-end segments, fitted on years 1-7.
    with (data_dir / "sbg_survivors.csv").open() as handle:
        survivors = [float(row[column]) for row in csv.DictReader(handle)]
    model = ShiftedBetaGeometric().fit_arrays(survivors)
    last_digit(model.params_["alpha"], alpha, 3)
    last_digit(model.params_["beta"], beta, 3)
    assert model.log_likelihood_ == pytest.approx(log_likelihood, abs=0.01)
    # The projection is the paper's survivor function written as its product of retention rates
    # (eq. 7: r_t = (beta + t - 1) / (alpha + beta + t - 1)), not kvar's Beta-function form.
    a, b = model.params_["alpha"], model.params_["beta"]
    by_hand = 1000 * np.cumprod([1.0] + [(b + t - 1) / (a + b + t - 1) for t in range(1, 13)])
    projected = model.projected_survivors(12)
    assert [row["survivors"] for row in projected] == pytest.approx(by_hand, rel=1e-12)
    assert [row["observed"] for row in projected[:8]] == survivors
    # The fitted curve tracks the calibration years it was fitted on within 3 % (the paper's Figure 3).
    assert all(abs(row["survivors"] - row["observed"]) <= 0.03 * row["observed"] for row in projected[:8])


def test_bad_inputs_are_clear() -> None:
    from kvar.errors import NotFittedError

    with pytest.raises(InputError, match="too few"):
        BetaGeo().fit_arrays([1, 0], [1, 0], [5, 5])
    with pytest.raises(InputError, match="frequency 0"):
        BetaGeo().fit_arrays(np.zeros(20), np.zeros(20), np.full(20, 10.0))
    with pytest.raises(InputError, match="between 0 and T"):
        ParetoNBD().fit_arrays(np.ones(20), np.full(20, 12.0), np.full(20, 10.0))
    with pytest.raises(InputError, match="never increase"):
        ShiftedBetaGeometric().fit_arrays([100, 120, 90])
    with pytest.raises(NotFittedError, match="not fitted"):
        BetaGeo().probability_alive_arrays(1, 1, 2)


def test_bgnbd_tracks_cdnow_like_the_paper(con, data_dir) -> None:
    import datetime as dt

    import kvar
    from kvar.models.tracking import holdout_by_frequency, repeat_purchase_tracking

    tx = con.table(kvar.load_file(con, "transactions", data_dir / "CDNOW_sample.txt").accepted_table)
    summary = kvar.customer_summary(tx, freq="D", unit="W", calibration_end=dt.date(1997, 9, 30))
    model = BetaGeo().fit(summary)
    rows = repeat_purchase_tracking(model, tx, unit="W", calibration_end=dt.date(1997, 9, 30))
    assert len(rows) == 78 and rows[-1]["actual_cumulative"] == 2457 + 1882  # calibration + holdout repeat days
    end_of_calibration = [r for r in rows if r["calibration"]][-1]
    assert end_of_calibration["expected_cumulative"] == pytest.approx(end_of_calibration["actual_cumulative"], rel=0.03)
    assert rows[-1]["expected_cumulative"] == pytest.approx(rows[-1]["actual_cumulative"], rel=0.06)
    by_frequency = holdout_by_frequency(model, summary)
    zero = by_frequency[0]
    # Fader, Hardie & Lee (2005), section 5: the 1,411 zero-repeaters made 334/1411 = 0.24 holdout purchases
    # each; BG/NBD expected 0.23.
    assert (zero["customers"], round(zero["actual"], 2), round(zero["expected"], 2)) == (1411, 0.24, 0.23)


def test_sbg_per_cohort_from_subscriptions() -> None:
    import datetime as dt

    import polars as pl

    from kvar.models.cohort_retention import cohort_survivors, sbg_by_cohort

    # A 2020 cohort of 10: 4 leave in 2020 (after their anniversary? no: within year 1), 2 in 2021, 1 in 2022.
    ends = [dt.datetime(2020, 6, 1)] * 4 + [dt.datetime(2021, 6, 1)] * 2 + [dt.datetime(2022, 6, 1)] + [None] * 3
    subs = pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(10)], "started_at": [dt.datetime(2020, 2, 1)] * 10, "ended_at": ends}
    )
    assert cohort_survivors(subs, as_of=dt.datetime(2024, 1, 1)) == {dt.datetime(2020, 1, 1): [10, 6, 4, 3, 3]}
    (row,) = sbg_by_cohort(subs, as_of=dt.datetime(2024, 1, 1), project=6)
    assert row["size"] == 10 and len(row["projected"]) == 7
    # The same maximum found independently: the paper's recursion P(T=1) = alpha/(alpha+beta),
    # P(T=t) = P(T=t-1) (beta+t-2)/(alpha+beta+t-1), maximised by Nelder-Mead from another start.
    lost, survivors = [4, 2, 1, 0], 3

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        alpha, beta = np.exp(log_params)
        churn = [alpha / (alpha + beta)]
        for t in range(2, len(lost) + 1):
            churn.append(churn[-1] * (beta + t - 2) / (alpha + beta + t - 1))
        return -(sum(n * np.log(p) for n, p in zip(lost, churn, strict=True)) + survivors * np.log(1 - sum(churn)))

    found = optimize.minimize(
        negative_log_likelihood,
        np.log([3.0, 0.5]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    assert (row["alpha"], row["beta"]) == pytest.approx(tuple(np.exp(found.x)), rel=1e-4)


def test_bgnbd_recovers_simulated_truth() -> None:
    from kvar.models.beta_geo import simulate_bgnbd

    rng = np.random.default_rng(3)
    truth = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    data = simulate_bgnbd(60_000, *truth.values(), T=np.round(rng.uniform(30, 78, 60_000) * 7) / 7, seed=4)
    model = BetaGeo().fit_arrays(data["frequency"], np.round(data["recency"] * 7) / 7, data["T"])
    for name, value in truth.items():
        assert abs(model.params_[name] - value) < 3 * model.standard_errors_[name] + 0.02 * value, name


def test_compressed_and_raw_likelihoods_agree(cdnow) -> None:
    from kvar.models.base import compress

    raw = {"x": cdnow["x"], "t_x": cdnow["t_x"], "T": cdnow["T"], "weight": np.ones(len(cdnow["x"]))}
    packed = compress({"x": cdnow["x"], "t_x": cdnow["t_x"], "T": cdnow["T"]})
    params = np.array([0.3, 4.0, 0.8, 2.5])
    assert packed["weight"].sum() == len(cdnow["x"]) and len(packed["x"]) < len(cdnow["x"])
    assert BetaGeo()._total(params, packed) == pytest.approx(BetaGeo()._total(params, raw))


def test_cohort_survivors_count_an_end_exactly_at_a_boundary_as_still_there() -> None:
    import datetime as dt

    import polars as pl

    from kvar.models.cohort_retention import cohort_survivors

    # kvar's side of the instant (docs/definitions.md, "State at a boundary"): ending exactly at the boundary
    # 2021-01-01 still counts there; one microsecond earlier does not.
    ends = [dt.datetime(2021, 1, 1), dt.datetime(2020, 12, 31, 23, 59, 59, 999999), None, dt.datetime(2022, 1, 1)]
    subs = pl.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "started_at": [dt.datetime(2020, 3, 1)] * 4, "ended_at": ends}
    )
    assert cohort_survivors(subs, as_of=dt.datetime(2023, 1, 1)) == {dt.datetime(2020, 1, 1): [4, 3, 2, 1]}
