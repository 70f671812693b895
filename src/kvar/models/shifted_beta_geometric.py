"""Shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007).

"How to project customer retention", Journal of Interactive Marketing 21(1), 76-90. Each customer of a
cohort renews at the end of every period with their own probability 1 - theta, theta ~ Beta(alpha, beta):

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),   S(t) = B(alpha, beta + t) / B(alpha, beta)
    retention rate r_t = (beta + t - 1) / (alpha + beta + t - 1)

Fitted on the number of customers still active at the start of periods 0, 1, …, n (survivors).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, hyp2f1

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.metrics.frames import table_of
from kvar.models.base import MaximumLikelihoodModel, as_float_array, require_fit


class ShiftedBetaGeometric(MaximumLikelihoodModel):
    """sBG with parameters ``alpha, beta``; fit on survivor counts ``n_0 >= n_1 >= …``."""

    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    initial: ClassVar[tuple[float, ...]] = (1.0, 1.0)
    paper: ClassVar[str] = "Fader & Hardie 2007, Journal of Interactive Marketing 21(1)"
    degenerate_above: ClassVar[dict[str, float]] = {"alpha": 1e4, "beta": 1e6}
    instead: ClassVar[str] = (
        "sBG assumes churn falls with tenure (the loyal remain); where it does not, "
        "kvar survival shows the hazard by tenure"
    )

    inputs: ClassVar[tuple[str, ...]] = ("survivors",)

    def fit(self, cohort: Any) -> ShiftedBetaGeometric:
        """Fit on a frame (any kind kvar accepts) with one row per ``period`` (0, 1, …) and its ``survivors``."""
        frame, _ = table_of(cohort, "survivors", ["period", "survivors"])
        table = frame.select("period", "survivors").sort("period").collect(backend="pyarrow").to_native()
        return self.fit_arrays(table.column("survivors").to_numpy(zero_copy_only=False))

    def fit_arrays(self, survivors: Any) -> ShiftedBetaGeometric:
        """Fit on the survivor counts ``n_0 >= n_1 >= …`` at the start of periods 0, 1, …"""
        counts = as_float_array(survivors, "survivors")
        if len(counts) < 3:
            raise InputError(
                tr("survivors: need at least 3 periods (start and two renewals), got {periods}").format(
                    periods=len(counts)
                )
            )
        if np.any(np.diff(counts) > 0) or counts[0] <= 0:
            raise InputError(tr("survivors: counts must start positive and never increase"))
        if counts[-1] == counts[0]:
            raise InputError(tr("survivors: nobody left the cohort, the churn probability cannot be estimated"))
        periods = np.arange(1, len(counts))
        lost = counts[:-1] - counts[1:]
        self.survivors_ = counts
        data = {
            "t": np.append(periods, periods[-1]),
            "censored": np.append(np.zeros(len(periods)), 1.0),
            "weight": np.append(lost, counts[-1]),
        }
        self._set(self._fit(data))
        return self

    def _log_likelihoods(self, params: np.ndarray, data: Any) -> np.ndarray:
        alpha, beta = params
        t = data["t"]
        churn_at_t = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)
        survive_t = betaln(alpha, beta + t) - betaln(alpha, beta)
        return np.where(data["censored"] == 1, survive_t, churn_at_t)

    def survival(self, t: Any) -> np.ndarray:
        """S(t): share of the cohort still active after ``t`` renewal opportunities."""
        alpha, beta = self._param_array()
        return np.exp(betaln(alpha, beta + np.asarray(t, dtype=float)) - betaln(alpha, beta))

    def retention_rate(self, t: Any) -> np.ndarray:
        """r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)."""
        alpha, beta = self._param_array()
        t = np.asarray(t, dtype=float)
        return (beta + t - 1) / (alpha + beta + t - 1)

    def projected_survivors(self, periods: int) -> list[dict[str, float | None]]:
        """Expected survivors of the cohort for periods 0..``periods`` (size = the cohort's start)."""
        require_fit(self, "survivors_")
        start = float(self.survivors_[0])
        t = np.arange(periods + 1)
        return [
            {
                "period": int(k),
                "survivors": start * float(s),
                "retention_rate": float(r) if k else None,
                "observed": float(self.survivors_[k]) if k < len(self.survivors_) else None,
            }
            for k, s, r in zip(t, self.survival(t), self.retention_rate(np.maximum(t, 1)), strict=True)
        ]

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewals: int = 0) -> float:
        """DERL of a customer who has made ``renewals`` renewals (Fader & Hardie 2010, Marketing Science 29(1)).

        DERL = (beta + n) / (alpha + beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d)),
        in periods, counting the coming renewal as one period of value.
        """
        alpha, beta = self._param_array()
        n = float(renewals)
        return float(
            (beta + n) / (alpha + beta + n) * hyp2f1(1, beta + n + 1, alpha + beta + n + 1, 1 / (1 + discount_rate))
        )
