"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, JMR 42(4); Fader & Hardie note 025).

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers, independent
of how often they buy. Fitted on customers with ``x > 0`` repeat purchases and mean spend ``zbar``; the
density of ``zbar`` (with its Jacobian terms, so the log-likelihood is comparable across tools) is

    f(zbar | x) = Gamma(p x + q) / (Gamma(p x) Gamma(q)) * gamma^q zbar^(p x - 1) x^(p x) / (gamma + x zbar)^(p x + q)

Expected mean spend of a customer: (p (gamma + x zbar)) / (p x + q - 1); of a new one: p gamma / (q - 1).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.models.base import MaximumLikelihoodModel, as_float_array, compress


class GammaGamma(MaximumLikelihoodModel):
    """Gamma-Gamma with parameters ``p, q, gamma`` (the paper's symbols; lifetimes calls gamma ``v``)."""

    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    initial: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0)
    paper: ClassVar[str] = "Fader, Hardie & Lee 2005, JMR 42(4); Fader & Hardie note 025"

    inputs: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")

    def fit_arrays(self, frequency: Any, monetary_value: Any) -> GammaGamma:
        """Fit on customers with frequency > 0 (others are ignored): repeat purchases and mean spend."""
        x, zbar = as_float_array(frequency, "frequency"), as_float_array(monetary_value, "monetary_value")
        repeat = x > 0
        if repeat.sum() < 10:
            raise InputError(
                tr("Gamma-Gamma needs at least 10 customers with repeat purchases, got {customers}").format(
                    customers=int(repeat.sum())
                )
            )
        if np.any(zbar[repeat] <= 0):
            raise InputError(tr("Gamma-Gamma needs a positive monetary_value for every customer with repeat purchases"))
        with np.errstate(invalid="ignore", divide="ignore"):  # undefined (nan) when spend or frequency is constant
            self.frequency_spend_correlation_ = float(np.corrcoef(x[repeat], zbar[repeat])[0, 1])
        self._set(self._fit(compress({"x": x[repeat], "zbar": zbar[repeat]})))
        return self

    def _log_likelihoods(self, params: np.ndarray, data: Any) -> np.ndarray:
        p, q, gamma = params
        x, zbar = data["x"], data["zbar"]
        px = p * x
        return (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(gamma)
            + (px - 1) * np.log(zbar)
            + px * np.log(x)
            - (px + q) * np.log(gamma + x * zbar)
        )

    def expected_spend(self, summary: Any) -> Any:
        """Per customer of ``summary`` (a frame like :meth:`fit`'s): ``customer_id``, ``expected_spend``."""
        return self._per_customer(summary, self.expected_spend_arrays, "expected_spend")

    def expected_spend_arrays(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[spend per transaction | x, zbar]; the population mean for customers with x = 0."""
        p, q, gamma = self._param_array()
        x, zbar = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
        population = p * gamma / (q - 1)
        return np.where(x > 0, p * (gamma + x * zbar) / (p * x + q - 1), population)
