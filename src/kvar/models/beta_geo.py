"""BG/NBD: the beta-geometric / negative-binomial model of repeat buying (non-contractual).

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the Pareto/NBD
model", Marketing Science 24(2), 275-284. While alive a customer buys at Poisson rate lambda ~
Gamma(r, alpha); after each purchase they drop out with probability p ~ Beta(a, b).

Per customer with ``x`` repeat purchases, last at ``t_x``, observed for ``T`` (one time unit throughout):

    L = B(a, b + x)/B(a, b) * Gamma(r + x) alpha^r / Gamma(r)
        * [ (alpha + T)^-(r+x) + [x > 0] a / (b + x - 1) * (alpha + t_x)^-(r+x) ]

computed in log space (no "#NUM!" overflow for large x or T).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from kvar.models.base import PurchaseModel, compress, rfm_arrays


class BetaGeo(PurchaseModel):
    """BG/NBD with parameters ``r, alpha, a, b``; learned state: ``params_``, ``log_likelihood_``, …"""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    initial: ClassVar[tuple[float, ...]] = (1.0, 1.0, 1.0, 1.0)
    paper: ClassVar[str] = "Fader, Hardie & Lee 2005, Marketing Science 24(2)"
    degenerate_above: ClassVar[dict[str, float]] = {"r": 1e3, "a": 1e4, "b": 1e4}
    instead: ClassVar[str] = (
        "Purchases this regular (recurring subscription charges, say) are a contractual business: "
        "use kvar sbg --subscriptions FILE or kvar survival --subscriptions FILE"
    )

    def fit_arrays(self, frequency: Any, recency: Any, T: Any) -> BetaGeo:
        """Fit on one array per summary column (repeat purchases, time of the last one, age; one unit)."""
        x, t_x, big_t = rfm_arrays(frequency, recency, T)
        data = compress({"x": x, "t_x": t_x, "T": big_t})
        data["x_values"], data["x_index"] = np.unique(data["x"], return_inverse=True)
        self._set(self._fit(data))
        return self

    @staticmethod
    def _by_frequency(values: np.ndarray, data: Any) -> np.ndarray:
        """A function of x computed once per distinct frequency, spread back to the rows."""
        return values[data["x_index"]] if "x_index" in data else values

    @staticmethod
    def _frequencies(data: Any) -> np.ndarray:
        return data["x_values"] if "x_values" in data else data["x"]

    def _log_likelihoods(self, params: np.ndarray, data: Any) -> np.ndarray:
        r, alpha, a, b = params
        x, t_x, big_t = data["x"], data["t_x"], data["T"]
        unique_x = self._frequencies(data)
        head = (
            self._by_frequency(gammaln(r + unique_x) + betaln(a, b + unique_x), data)
            - gammaln(r)
            + r * np.log(alpha)
            - betaln(a, b)
        )
        still = -(r + x) * np.log(alpha + big_t)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = np.where(
                x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
            )
        return head + np.logaddexp(still, dropped)

    def _log_likelihood_gradients(self, params: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """Analytic gradient: with weights w_s, w_d of the two terms inside the log-sum,

        d/dr = psi(r+x) - psi(r) + ln alpha - w_s ln(alpha+T) - w_d ln(alpha+t_x)
        d/dalpha = r/alpha - (r+x) (w_s/(alpha+T) + w_d/(alpha+t_x))
        d/da = psi(a+b) - psi(a+b+x) + w_d/a
        d/db = psi(b+x) - psi(a+b+x) - psi(b) + psi(a+b) - w_d/(b+x-1)
        """
        r, alpha, a, b = params
        x, t_x, big_t = data["x"], data["t_x"], data["T"]
        unique_x = self._frequencies(data)
        head = (
            self._by_frequency(gammaln(r + unique_x) + betaln(a, b + unique_x), data)
            - gammaln(r)
            + r * np.log(alpha)
            - betaln(a, b)
        )
        log_total = np.log(alpha + big_t)
        log_recent = np.log(alpha + t_x)
        still = -(r + x) * log_total
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * log_recent, -np.inf)
        mixture = np.logaddexp(still, dropped)
        values = head + mixture
        w_s = np.exp(still - mixture)
        w_d = 1.0 - w_s
        repeat = x > 0
        digamma_r_x = self._by_frequency(digamma(r + unique_x), data)
        digamma_abx = self._by_frequency(digamma(a + b + unique_x), data)
        digamma_bx = self._by_frequency(digamma(b + unique_x), data)
        d_r = digamma_r_x - digamma(r) + np.log(alpha) - w_s * log_total - w_d * log_recent
        d_alpha = r / alpha - (r + x) * (w_s / (alpha + big_t) + w_d / (alpha + t_x))
        d_a = digamma(a + b) - digamma_abx + w_d / a
        d_b = (
            digamma_bx
            - digamma_abx
            - digamma(b)
            + digamma(a + b)
            - np.where(repeat, w_d / np.maximum(b + x - 1, 1e-300), 0.0)
        )
        return values, np.vstack([d_r, d_alpha, d_a, d_b])

    def probability_alive_arrays(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x))."""
        r, alpha, a, b = self._param_array()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = (
                np.log(a)
                - np.log(np.maximum(b + x - 1, 1e-300))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
            )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def expected_purchases_new_customer(self, t: Any) -> np.ndarray:
        """E[X(t)] for a customer just acquired: (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]."""
        r, alpha, a, b = self._param_array()
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))

    def expected_purchases_arrays(self, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (eq. 10 of the paper)."""
        r, alpha, a, b = self._param_array()
        x, t_x, big_t = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, t / (alpha + big_t + t)
        )
        return head * tail * self.probability_alive_arrays(x, t_x, big_t)


def simulate_bgnbd(
    customers: int, r: float, alpha: float, a: float, b: float, T: np.ndarray | float, seed: int = 0
) -> dict[str, np.ndarray]:
    """``frequency``, ``recency``, ``T`` of ``customers`` customers simulated from BG/NBD's own story (for
    parameter-recovery checks): a purchase rate lambda ~ Gamma(r, 1/alpha) and a dropout probability
    p ~ Beta(a, b) each; while alive they buy after exponential waiting times and drop out with probability
    p after each purchase; observed for ``T`` time units from their first purchase."""
    rng = np.random.default_rng(seed)
    horizon = np.broadcast_to(np.asarray(T, dtype=float), (customers,)).copy()
    rate = rng.gamma(r, 1.0 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    frequency = np.zeros(customers)
    recency = np.zeros(customers)
    clock = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    while active.any():
        # After the (first or latest) purchase the customer may drop out; the first purchase at 0 counts too.
        index = np.flatnonzero(active)
        leaves = (rng.random(index.size) < dropout[index]) & (frequency[index] > 0)
        active[index[leaves]] = False
        index = index[~leaves]
        clock[index] += rng.exponential(1.0 / rate[index])
        bought = clock[index] < horizon[index]
        frequency[index[bought]] += 1
        recency[index[bought]] = clock[index[bought]]
        active[index[~bought]] = False
    return {"frequency": frequency, "recency": recency, "T": horizon}
