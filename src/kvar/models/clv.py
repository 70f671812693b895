"""Customer lifetime value from a purchase model and a spend model.

Discounted CLV over ``horizon_months`` months (lifetimes' convention: a month is 30 days, cash flows at month
ends, ``discount_rate`` per month):

    CLV = sum_{i=1..horizon_months} spend * (E[Y(i m)] - E[Y((i - 1) m)]) / (1 + d)^i

with ``m`` a month in the model's time unit, ``E[Y(t)]`` the conditional expected purchases and
``spend`` the Gamma-Gamma expected spend per purchase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import narwhals as nw
import numpy as np
import pyarrow as pa

from kvar.errors import InputError, ParameterError
from kvar.i18n import tr
from kvar.metrics.frames import arrow_like, as_lazy, exact_sum, rows_of
from kvar.metrics.periods import DAYS_PER_UNIT, check_unit
from kvar.models.base import MaximumLikelihoodModel, PurchaseModel, customer_columns
from kvar.models.beta_geo import BetaGeo
from kvar.models.gamma_gamma import GammaGamma
from kvar.models.pareto_nbd import ParetoNBD


def discounted_clv(
    purchases: PurchaseModel,
    spend: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    unit: str = "W",
) -> np.ndarray:
    """Per-customer discounted CLV (currency of ``spend``); ``purchases`` is a fitted BetaGeo/ParetoNBD."""
    if horizon_months < 1:
        raise ParameterError(tr("horizon: expected at least 1 month, got {horizon}").format(horizon=horizon_months))
    if discount_rate < 0:
        raise ParameterError(
            tr("discount_rate: expected >= 0, got {discount_rate}").format(discount_rate=discount_rate)
        )
    month = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[check_unit(unit)]
    value = np.zeros(len(frequency))
    previous = np.zeros(len(frequency))
    for i in range(1, horizon_months + 1):
        expected = purchases.expected_purchases_arrays(i * month, frequency, recency, T)
        value += spend * (expected - previous) / (1 + discount_rate) ** i
        previous = expected
    return value


@dataclass(frozen=True)
class CustomerValue:
    """What :func:`customer_value` found: a per-customer frame and the fitted models by name."""

    #: The summary's columns plus the predictions, one row per customer in ``customer_id`` order, in the
    #: summary's kind of frame.
    customers: Any
    models: dict[str, MaximumLikelihoodModel]

    def totals(self) -> dict[str, float]:
        """``customers``, ``mean_clv`` and ``total_clv`` (currency of the spend) and ``likely_alive`` (% of
        customers with P(alive) > 0.5), computed where the customers frame lives.

        Raises :class:`InputError` when some customer has no finite CLV (no spend model, or a purchase model
        that does not fit)."""
        frame, _ = as_lazy(self.customers)
        if "clv" not in frame.collect_schema().names():
            raise InputError(
                tr(
                    "the fitted models give no finite CLV on these data (no spend model, or purchases too regular for BG/NBD)"
                )
            )
        (row,) = rows_of(
            frame.select(
                customers=nw.len(),
                finite=(~nw.col("clv").is_nan() & ~nw.col("clv").is_null()).cast(nw.Int64).sum(),
                mean_clv=nw.col("clv").mean(),
                total_clv=exact_sum("clv", frame),
                likely_alive=(nw.col("probability_alive") > 0.5).cast(nw.Float64).mean() * 100.0,
            )
        )
        if row["finite"] != row["customers"] or not all(math.isfinite(row[k]) for k in ("mean_clv", "total_clv")):
            raise InputError(
                tr(
                    "the fitted models give no finite CLV on these data (no spend model, or purchases too regular for BG/NBD)"
                )
            )
        return {key: row[key] for key in ("customers", "mean_clv", "total_clv", "likely_alive")}


def customer_value(
    summary: Any,
    *,
    model: str = "bgnbd",
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    unit: str = "W",
) -> CustomerValue:
    """Fit a purchase model (``bgnbd`` or ``pareto``) and Gamma-Gamma on a customer summary; predict.

    ``summary`` is a frame of :func:`~kvar.metrics.purchases.customer_summary`'s shape (any kind kvar
    accepts). The result's ``customers`` holds ``customer_id``, ``frequency``, ``recency``, ``T``,
    ``monetary_value`` plus ``probability_alive``, ``expected_purchases`` over ``horizon_months``,
    ``expected_spend`` and ``clv``. With ``model="gg"`` only the spend model is fitted, on repeat buyers
    with positive spend (free repeat purchases, e.g. $0.00 rows, are left out of the fit); with fewer than
    10 of them there is no spend model, so no spend or CLV.
    """
    _check_model(model)
    check_unit(unit)
    ids, columns = customer_columns(summary, ("frequency", "recency", "T", "monetary_value"))
    frequency, recency, T, spent = (columns[name] for name in ("frequency", "recency", "T", "monetary_value"))
    fitted = _fit(frequency, recency, T, spent, model=model, spend=True)
    predictions: dict[str, np.ndarray] = {}
    if "gg" in fitted:
        spend_model: Any = fitted["gg"]
        predictions["expected_spend"] = spend_model.expected_spend_arrays(frequency, spent)
    if model != "gg":
        purchases: Any = fitted[model]
        month = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[unit]
        predictions["probability_alive"] = purchases.probability_alive_arrays(frequency, recency, T)
        predictions["expected_purchases"] = purchases.expected_purchases_arrays(
            horizon_months * month, frequency, recency, T
        )
        if "expected_spend" in predictions:
            predictions["clv"] = discounted_clv(
                purchases,
                predictions["expected_spend"],
                frequency,
                recency,
                T,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                unit=unit,
            )
    table = pa.table({"customer_id": ids, **columns, **predictions})
    return CustomerValue(arrow_like(summary, table), fitted)


def fitted_model(summary: Any, *, model: str = "bgnbd") -> MaximumLikelihoodModel:
    """The ``model`` (``bgnbd``, ``pareto`` or ``gg``) :func:`customer_value` fits, fitted alone on the same
    customers, predicting nothing."""
    _check_model(model)
    _, columns = customer_columns(summary, ("frequency", "recency", "T", "monetary_value"))
    arrays = (columns[name] for name in ("frequency", "recency", "T", "monetary_value"))
    return _fit(*arrays, model=model, spend=model == "gg")[model]


def _fit(
    frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, spent: np.ndarray, *, model: str, spend: bool
) -> dict[str, MaximumLikelihoodModel]:
    """The purchase ``model`` (unless ``gg``) and, when ``spend``, Gamma-Gamma where there are enough repeat
    buyers with positive spend (``gg`` requires it)."""
    fitted: dict[str, MaximumLikelihoodModel] = {}
    priced = (frequency > 0) & (spent > 0)  # repeat buyers whose repeat purchases cost something
    if spend and priced.sum() >= 10:
        fitted["gg"] = GammaGamma().fit_arrays(frequency[priced], spent[priced])
    elif model == "gg":
        raise InputError(tr("Gamma-Gamma needs at least 10 customers with repeat purchases and positive spend"))
    if model != "gg":
        fitted[model] = (BetaGeo() if model == "bgnbd" else ParetoNBD()).fit_arrays(frequency, recency, T)
    return fitted


def _check_model(model: str) -> None:
    """Raise :class:`ParameterError` unless ``model`` is ``bgnbd``, ``pareto`` or ``gg`` (before any work)."""
    if model not in ("bgnbd", "pareto", "gg"):
        raise ParameterError(tr("model: expected bgnbd, pareto or gg, got {model!r}").format(model=model))
