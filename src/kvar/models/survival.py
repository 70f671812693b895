"""Survival analysis of customer lifetimes with lifelines (Kaplan-Meier, log-rank, hazard by tenure).

A customer's lifetime is their first activity spell (docs/definitions.md, "Activity"): from acquisition
to the end of that spell, in days. It is *observed* (an event) when the spell ended before ``as_of``, and
*censored* otherwise (still a customer). The per-customer table is built in the engine; only that small
table is handed to lifelines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
from narwhals.typing import IntoFrame

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.metrics.activity import activity_source, spells
from kvar.metrics.calendar import observation
from kvar.metrics.frames import rows_of
from kvar.metrics.grid import segment_of
from kvar.metrics.periods import with_epoch_days


def customer_lifetimes(
    transactions: IntoFrame | None = None,
    subscriptions: IntoFrame | None = None,
    *,
    by: str | None = None,
    customers: IntoFrame | None = None,
    inactivity: str = "90d",
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> Any:
    """Per customer: ``duration_days`` of the first spell (to ``as_of`` if still open) and ``observed``."""
    source = activity_source(transactions, subscriptions, inactivity=inactivity, grace=grace)
    _, as_of = observation(source.facts, source.time_columns, as_of)
    first = spells(source.intervals, equal_lengths=source.equal_lengths).filter(
        nw.col("spell_start") == nw.col("acquired_at")
    )
    ends = first.with_columns(
        observed=(nw.col("spell_end") <= nw.lit(as_of)),
        until=nw.when(nw.col("spell_end") <= nw.lit(as_of)).then(nw.col("spell_end")).otherwise(nw.lit(as_of)),
    )
    dated = with_epoch_days(with_epoch_days(ends, "acquired_at", "start_day"), "until", "end_day")
    lifetimes = dated.select(
        "customer_id", "acquired_at", "observed", duration_days=(nw.col("end_day") - nw.col("start_day")).cast(nw.Int64)
    ).filter(nw.col("acquired_at") < nw.lit(as_of))
    if by:
        lifetimes = lifetimes.join(
            segment_of(source.facts, by, source.first_seen_column, customers), on="customer_id", how="left"
        )
    return source.finish(lifetimes.sort("customer_id"))


@dataclass
class SurvivalAnalysis:
    """Kaplan-Meier curves per segment, medians, log-rank test and hazard by tenure."""

    curves: list[dict[str, Any]] = field(default_factory=list)
    medians: list[dict[str, Any]] = field(default_factory=list)
    hazard: list[dict[str, Any]] = field(default_factory=list)
    logrank: dict[str, Any] | None = None


def survival_analysis(lifetimes: Any, *, by: str | None = None, bucket_days: int = 30) -> SurvivalAnalysis:
    """Fit lifelines' Kaplan-Meier per segment on a :func:`customer_lifetimes` table.

    ``hazard``: per ``bucket_days`` of tenure, customers at risk at its start, lifetimes ending in it, and
    hazard = ended / at risk (the life-table estimate of where in the journey customers leave).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    rows = rows_of(lifetimes)
    if len(rows) < 2:
        raise InputError(tr("survival analysis needs at least two customers"))
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row[by]) if by else "all", []).append(row)
    result = SurvivalAnalysis()
    for name, members in sorted(groups.items()):
        durations = np.array([m["duration_days"] for m in members], dtype=float)
        events = np.array([bool(m["observed"]) for m in members])
        fitter = KaplanMeierFitter().fit(durations, events, label=name)
        frame = fitter.survival_function_
        ci = fitter.confidence_interval_survival_function_
        for day, survival, low, high in zip(frame.index, frame.iloc[:, 0], ci.iloc[:, 0], ci.iloc[:, 1], strict=True):
            result.curves.append(
                {
                    "segment": name,
                    "day": float(day),
                    "survival": float(survival),
                    "lower_95": float(low),
                    "upper_95": float(high),
                }
            )
        median = fitter.median_survival_time_
        result.medians.append(
            {
                "segment": name,
                "customers": len(members),
                "ended": int(events.sum()),
                "median_lifetime_days": None if not np.isfinite(median) else float(median),
            }
        )
        edges = np.arange(0, durations.max() + bucket_days, bucket_days)
        for start in edges:
            at_risk = int(np.sum(durations >= start))
            if at_risk == 0:
                break
            ended = int(np.sum(events & (durations >= start) & (durations < start + bucket_days)))
            result.hazard.append(
                {
                    "segment": name,
                    "tenure_start_days": int(start),
                    "at_risk": at_risk,
                    "ended": ended,
                    "hazard": ended / at_risk,
                }
            )
    if by and len(groups) > 1:
        test = multivariate_logrank_test(
            np.array([r["duration_days"] for r in rows], dtype=float),
            np.array([str(r[by]) for r in rows]),
            np.array([bool(r["observed"]) for r in rows]),
        )
        result.logrank = {
            "test_statistic": float(test.test_statistic),
            "p_value": float(test.p_value),
            "degrees_of_freedom": len(groups) - 1,
        }
    return result
