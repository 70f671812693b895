"""Did a flow work? Its goal rate among the customers it treated against the customers held out of it.

Each *entry* is one occurrence of a flow's trigger for a customer (the ledger's messages, one entry per
occurrence). It is **treated** when the customer was not held out (whether or not a message then went: capped,
suppressed and bounced entries stay treated, an intention-to-treat comparison that the holdout makes fair), and
**held out** when the global or the flow's holdout kept every message from them.

An entry *reaches the goal* when the goal's condition (:mod:`kvar.flows.conditions`) holds in
``(occurred_at, occurred_at + window]``: ``purchase_within: 30d`` a purchase in the 30 days after the occurrence,
``payment_recovered_within: 14d`` a succeeded payment, ``active_after: 90d`` a subscription active at its end.

Only entries whose window has ended by ``as_of`` count (later ones cannot be judged yet).

With ``x₁`` of ``n₁`` treated and ``x₀`` of ``n₀`` held out reaching the goal, ``p = x / n``:

* **uplift** ``p₁ − p₀`` (percentage points), with its 95 % interval by Newcombe's hybrid score method
  (``statsmodels.stats.proportion.confint_proportions_2indep``, ``compare="diff"``);
* **relative uplift** ``p₁ / p₀ − 1``, interval by the log method (``compare="ratio"``);
* **minimum detectable effect**: the smallest uplift over ``p₀`` that a two-sided 5 % test would detect with
  80 % power at these group sizes (``NormalIndPower`` on Cohen's *h*, turned back into points);
* **implied revenue**: uplift × treated entries × the value of a customer (mean 12-month CLV of the treated
  customers, :func:`kvar.models.clv.customer_value`; where that cannot be fitted, 12 × their mean MRR), with the
  interval scaled alike. ``value_basis`` says which.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from kvar.flows.conditions import GOAL_CONDITIONS, condition_met
from kvar.flows.triggers import Tables

ALPHA = 0.05
POWER = 0.80


def compare_rates(treated_goals: int, treated: int, held_goals: int, held: int) -> dict[str, float | None]:
    """Goal rates, absolute and relative uplift with 95 % intervals, and the minimum detectable effect."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    out: dict[str, float | None] = dict.fromkeys(
        (
            "rate_treated",
            "rate_held_out",
            "uplift",
            "uplift_low",
            "uplift_high",
            "relative_uplift",
            "relative_low",
            "relative_high",
            "minimum_detectable_effect",
        )
    )
    if treated == 0 or held == 0:
        return out
    p1, p0 = treated_goals / treated, held_goals / held
    low, high = confint_proportions_2indep(
        treated_goals, treated, held_goals, held, compare="diff", method="newcomb", alpha=ALPHA
    )
    out.update(rate_treated=p1, rate_held_out=p0, uplift=p1 - p0, uplift_low=float(low), uplift_high=float(high))
    if held_goals > 0 and treated_goals > 0:
        ratio_low, ratio_high = confint_proportions_2indep(
            treated_goals, treated, held_goals, held, compare="ratio", method="log", alpha=ALPHA
        )
        out.update(relative_uplift=p1 / p0 - 1, relative_low=float(ratio_low) - 1, relative_high=float(ratio_high) - 1)
    out["minimum_detectable_effect"] = minimum_detectable_effect(p0, treated, held)
    return out


def minimum_detectable_effect(base_rate: float, treated: int, held: int) -> float | None:
    """The smallest uplift over ``base_rate`` detectable at 5 % (two-sided) with 80 % power, in rate units."""
    from statsmodels.stats.power import NormalIndPower

    if treated == 0 or held == 0:
        return None
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=treated, alpha=ALPHA, power=POWER, ratio=held / treated, alternative="two-sided"
    )
    angle = 2 * math.asin(math.sqrt(base_rate)) + float(h)
    if angle >= math.pi:
        return 1.0 - base_rate
    return math.sin(angle / 2) ** 2 - base_rate


def uplift(
    goals: dict[str, tuple[str, dt.timedelta]],
    tables: Tables,
    entries: list[dict[str, Any]],
    *,
    as_of: dt.datetime,
    revenue: bool = True,
) -> list[dict[str, Any]]:
    """Per flow of ``goals`` (flow → goal and window): entries treated and held out, goal rates, uplift,
    intervals, minimum detectable effect and (when ``revenue``, which fits the CLV models) implied revenue.

    ``entries`` are ``flow``, ``customer_id``, ``occurred_at`` and ``held_out`` (bool) rows
    (:meth:`kvar.flows.ledger.Ledger.entries`)."""
    out = []
    for flow, (goal, window) in sorted(goals.items()):
        judged = [e for e in entries if e["flow"] == flow and e["occurred_at"] + window <= as_of]
        reached = condition_met(
            tables,
            GOAL_CONDITIONS[goal],
            [(str(e["customer_id"]), e["occurred_at"], e["occurred_at"] + window) for e in judged],
        )
        x1 = sum(hit for hit, e in zip(reached, judged, strict=True) if not e["held_out"])
        x0 = sum(hit for hit, e in zip(reached, judged, strict=True) if e["held_out"])
        treated = [e["customer_id"] for e in judged if not e["held_out"]]
        row: dict[str, Any] = {
            "flow": flow,
            "goal": f"{goal} {window.days}d",
            "treated": len(treated),
            "treated_goals": x1,
            "held_out": len(judged) - len(treated),
            "held_out_goals": x0,
        }
        row.update(compare_rates(x1, len(treated), x0, len(judged) - len(treated)))
        value, basis = customer_value_of(tables, set(treated), as_of) if revenue else (None, None)
        row["value_basis"] = basis
        for name, column in (
            ("implied_revenue", "uplift"),
            ("revenue_low", "uplift_low"),
            ("revenue_high", "uplift_high"),
        ):
            row[name] = None if row[column] is None or value is None else row[column] * len(treated) * value
        out.append(row)
    return out


def customer_value_of(tables: Tables, customers: set[str], as_of: dt.datetime) -> tuple[float | None, str | None]:
    """The value of one of ``customers``: their mean 12-month CLV, else 12 × their mean MRR at ``as_of``."""
    from kvar.flows.profiles import profiles

    if not customers:
        return None, None
    people = profiles(tables, customers, as_of=as_of, fields={"clv"})
    clv = [p["clv"] for p in people.values() if p.get("clv") is not None]
    if clv:
        return float(np.mean(clv)), "clv_12m"
    mrr = [p.get("mrr", 0.0) for p in people.values()]
    if tables.subscriptions is not None:
        return 12 * float(np.mean(mrr)), "mrr_12m"
    return None, None
