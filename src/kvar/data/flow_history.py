"""A seeded simulation of a flow that ran with a holdout and had a known true effect, for the demo and the tests.

``customers`` customers enter the flow at uniformly spread instants over ``days`` days from ``start``; each is
held out with probability ``holdout``. A held-out customer buys within the goal's window (``window_days``) with
probability ``base_rate``; a treated customer with ``base_rate + effect``: ``effect`` is the true uplift, in
rate units. Every customer also has a purchase before entering (what made them a customer) and some buy again
after the window, so that a goal counted outside its window would show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FlowHistory:
    """The simulated entries (``flow``, ``customer_id``, ``occurred_at``, ``held_out``) and purchases
    (``transaction_id``, ``customer_id``, ``occurred_at``, ``amount``), with the truth they were drawn from."""

    flow: str
    entries: list[dict[str, Any]]
    purchases: list[dict[str, Any]]
    base_rate: float
    effect: float
    window_days: int


def simulate_flow_history(
    *,
    customers: int,
    holdout: float,
    base_rate: float,
    effect: float,
    seed: int,
    start: dt.datetime = dt.datetime(2026, 1, 1),
    days: int = 120,
    window_days: int = 30,
    flow: str = "winback",
    prefix: str = "W",
) -> FlowHistory:
    """Draw a flow's history (see the module's docstring)."""
    if not 0 <= base_rate <= base_rate + effect <= 1:
        raise ValueError("base_rate and base_rate + effect must be probabilities")
    rng = np.random.default_rng(seed)
    entered = start + np.array([dt.timedelta(seconds=float(s)) for s in rng.uniform(0, days * 86_400, customers)])
    held = rng.random(customers) < holdout
    converts = rng.random(customers) < np.where(held, base_rate, base_rate + effect)
    entries, bought = [], []
    for number in range(customers):
        customer = f"{prefix}{number:06d}"
        when: dt.datetime = entered[number]
        entries.append({"flow": flow, "customer_id": customer, "occurred_at": when, "held_out": bool(held[number])})
        times = [when - dt.timedelta(days=float(rng.uniform(61, 200)))]
        if converts[number]:
            times.append(when + dt.timedelta(days=float(rng.uniform(0.01, window_days))))
        if rng.random() < 0.3:
            times.append(when + dt.timedelta(days=float(rng.uniform(window_days + 1, window_days + 60))))
        for index, time in enumerate(times):
            bought.append(
                {
                    "transaction_id": f"{customer}-{index}",
                    "customer_id": customer,
                    "occurred_at": time,
                    "amount": round(float(rng.gamma(2.0, 30.0)), 2),
                }
            )
    return FlowHistory(flow, entries, bought, base_rate, effect, window_days)
