"""Simulate customers from a BG/NBD process with known parameters (for parameter-recovery checks).

Each customer draws a purchase rate lambda ~ Gamma(r, 1/alpha) and a dropout probability p ~ Beta(a, b);
while alive they buy after exponential waiting times, and after each purchase drop out with probability p.
Observed for ``T`` time units from their first purchase; returns the summary columns the models fit on.
"""

from __future__ import annotations

import numpy as np


def simulate_bgnbd(
    customers: int, r: float, alpha: float, a: float, b: float, T: np.ndarray | float, seed: int = 0
) -> dict[str, np.ndarray]:
    """``frequency``, ``recency``, ``T`` of ``customers`` simulated customers."""
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
