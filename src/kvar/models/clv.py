"""Customer lifetime value from a purchase model and a spend model.

Discounted CLV over ``horizon`` months (lifetimes' convention: a month is 30 days, cash flows at month
ends, ``discount_rate`` per month):

    CLV = sum_{i=1..horizon} spend * (E[Y(i m)] - E[Y((i - 1) m)]) / (1 + d)^i

with ``m`` a month in the model's time unit, ``E[Y(t)]`` the conditional expected purchases and
``spend`` the Gamma-Gamma expected spend per purchase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kvar.errors import InputError, ParameterError
from kvar.i18n import tr
from kvar.metrics.periods import DAYS_PER_UNIT, check_unit


def discounted_clv(
    purchases: Any,
    spend: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    horizon: int = 12,
    discount_rate: float = 0.01,
    unit: str = "W",
) -> np.ndarray:
    """Per-customer discounted CLV (currency of ``spend``); ``purchases`` is a fitted BetaGeo/ParetoNBD."""
    if horizon < 1:
        raise ParameterError(tr("horizon: expected at least 1 month, got {horizon}").format(horizon=horizon))
    if discount_rate < 0:
        raise ParameterError(
            tr("discount_rate: expected >= 0, got {discount_rate}").format(discount_rate=discount_rate)
        )
    month = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[check_unit(unit)]
    value = np.zeros(len(frequency))
    previous = np.zeros(len(frequency))
    for i in range(1, horizon + 1):
        expected = purchases.conditional_expected_purchases(i * month, frequency, recency, T)
        value += spend * (expected - previous) / (1 + discount_rate) ** i
        previous = expected
    return value


def customer_value(
    summary: Sequence[Mapping[str, Any]],
    *,
    model: str = "bgnbd",
    horizon: int = 12,
    discount_rate: float = 0.01,
    unit: str = "W",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fit a purchase model (``bgnbd`` or ``pareto``) and Gamma-Gamma on a customer summary; predict.

    Returns per-customer rows (the summary columns plus ``probability_alive``, ``expected_purchases`` over
    ``horizon`` months, ``expected_spend`` and ``clv``) and the fitted models by name. With ``model="gg"``
    only the spend model is fitted, on repeat buyers with positive spend (free repeat purchases, e.g. $0.00
    rows, are left out of the fit); with fewer than 10 of them there is no spend model, so no spend or CLV.
    """
    from kvar.models.beta_geo import BetaGeo
    from kvar.models.gamma_gamma import GammaGamma
    from kvar.models.pareto_nbd import ParetoNBD

    if model not in ("bgnbd", "pareto", "gg"):
        raise ParameterError(tr("model: expected bgnbd, pareto or gg, got {model!r}").format(model=model))
    check_unit(unit)
    frequency, recency, T, spent = (
        np.array([row[key] for row in summary], dtype=float) for key in ("frequency", "recency", "T", "monetary_value")
    )
    fitted: dict[str, Any] = {}
    spend = None
    priced = (frequency > 0) & (spent > 0)  # repeat buyers whose repeat purchases cost something
    if priced.sum() >= 10:
        fitted["gg"] = GammaGamma().fit(frequency[priced], spent[priced])
        spend = fitted["gg"].conditional_expected_average_profit(frequency, spent)
    elif model == "gg":
        raise InputError(tr("Gamma-Gamma needs at least 10 customers with repeat purchases and positive spend"))
    predictions: dict[str, np.ndarray] = {}
    if spend is not None:
        predictions["expected_spend"] = spend
    if model != "gg":
        purchases = (BetaGeo() if model == "bgnbd" else ParetoNBD()).fit(frequency, recency, T)
        fitted[model] = purchases
        month = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[unit]
        predictions["probability_alive"] = purchases.probability_alive(frequency, recency, T)
        predictions["expected_purchases"] = purchases.conditional_expected_purchases(
            horizon * month, frequency, recency, T
        )
        if spend is not None:
            predictions["clv"] = discounted_clv(
                purchases, spend, frequency, recency, T, horizon=horizon, discount_rate=discount_rate, unit=unit
            )
    rows = [
        {
            **{key: row[key] for key in ("customer_id", "frequency", "recency", "T", "monetary_value")},
            **{name: float(values[index]) for name, values in predictions.items()},
        }
        for index, row in enumerate(summary)
    ]
    return rows, fitted
