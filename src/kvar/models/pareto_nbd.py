"""Pareto/NBD: Poisson purchasing while alive, exponential lifetimes (non-contractual).

Schmittlein, Morrison & Colombo (1987), Management Science 33(1); likelihood as in Fader, Hardie & Lee
(2005), Marketing Science 24(2) and Fader & Hardie's note 008. Purchase rate lambda ~ Gamma(r, alpha),
dropout rate mu ~ Gamma(s, beta). With ``A0`` the Gauss hypergeometric term of the note,

    L = Gamma(r + x) alpha^r beta^s / Gamma(r)
        * [ 1 / ((alpha + T)^(r+x) (beta + T)^s) + s / (r + s + x) * A0 ]

evaluated in log space; ``A0`` picks the convergent hypergeometric series whether alpha >= beta or not.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln, hyp2f1

from kvar.models.base import PurchaseModel, compress, rfm_arrays


def _log_a0(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """log A0 of note 008 (a difference of two terms, taken in log space)."""
    total = r + s + x
    if alpha >= beta:
        high, second = alpha, s + 1
        z_recent, z_end = (alpha - beta) / (alpha + t_x), (alpha - beta) / (alpha + big_t)
    else:
        high, second = beta, r + x  # type: ignore[assignment]  # the second hypergeometric argument per customer
        z_recent, z_end = (beta - alpha) / (beta + t_x), (beta - alpha) / (beta + big_t)
    first = np.log(hyp2f1(total, second, total + 1, z_recent)) - total * np.log(high + t_x)
    last = np.log(hyp2f1(total, second, total + 1, z_end)) - total * np.log(high + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return first + np.log1p(-np.exp(last - first))


class ParetoNBD(PurchaseModel):
    """Pareto/NBD with parameters ``r, alpha, s, beta``."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    initial: ClassVar[tuple[float, ...]] = (0.5, 10.0, 0.5, 10.0)
    paper: ClassVar[str] = "Schmittlein, Morrison & Colombo 1987; Fader, Hardie & Lee 2005"
    degenerate_above: ClassVar[dict[str, float]] = {"r": 1e3, "s": 1e3}
    instead: ClassVar[str] = (
        "Purchases this regular (recurring subscription charges, say) are a contractual business: "
        "use kvar sbg --subscriptions FILE or kvar survival --subscriptions FILE"
    )

    def fit_arrays(self, frequency: Any, recency: Any, T: Any) -> ParetoNBD:
        """Fit on one array per summary column (repeat purchases, time of the last one, age; one unit)."""
        x, t_x, big_t = rfm_arrays(frequency, recency, T)
        self._set(self._fit(compress({"x": x, "t_x": t_x, "T": big_t})))
        return self

    def _log_likelihoods(self, params: np.ndarray, data: Any) -> np.ndarray:
        r, alpha, s, beta = params
        x, t_x, big_t = data["x"], data["t_x"], data["T"]
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
        gone = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, big_t)
        return head + np.logaddexp(alive, np.where(np.isfinite(gone), gone, -np.inf))

    def probability_alive_arrays(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)."""
        r, alpha, s, beta = self._param_array()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        log_a0 = _log_a0(r, alpha, s, beta, x, t_x, big_t)
        log_ratio = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + big_t) + s * np.log(beta + big_t) + log_a0
        return 1.0 / (1.0 + np.exp(np.where(np.isfinite(log_ratio), log_ratio, -np.inf)))

    def expected_purchases_arrays(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive)."""
        r, alpha, s, beta = self._param_array()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        rate = (r + x) * (beta + big_t) / ((alpha + big_t) * (s - 1))
        return (
            rate * (1 - ((beta + big_t) / (beta + big_t + t)) ** (s - 1)) * self.probability_alive_arrays(x, t_x, big_t)
        )
