"""Customer lifetime value from a purchase model and a spend model.

Discounted CLV over ``horizon`` months (lifetimes' convention: a month is 30 days, cash flows at month
ends, ``discount_rate`` per month):

    CLV = sum_{i=1..horizon} spend * (E[Y(i m)] - E[Y((i - 1) m)]) / (1 + d)^i

with ``m`` a month in the model's time unit, ``E[Y(t)]`` the conditional expected purchases and
``spend`` the Gamma-Gamma expected spend per purchase.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kvar.errors import ParameterError

DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 30.0}


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
        raise ParameterError(f"horizon: expected at least 1 month, got {horizon}")
    if discount_rate < 0:
        raise ParameterError(f"discount_rate: expected >= 0, got {discount_rate}")
    if unit not in DAYS_PER_UNIT:
        raise ParameterError(f"unit: expected D, W or M, got {unit!r}")
    month = 30.0 / DAYS_PER_UNIT[unit]
    value = np.zeros(len(frequency))
    previous = np.zeros(len(frequency))
    for i in range(1, horizon + 1):
        expected = purchases.conditional_expected_purchases(i * month, frequency, recency, T)
        value += spend * (expected - previous) / (1 + discount_rate) ** i
        previous = expected
    return value
