"""Survival analysis of customer lifetimes with lifelines (Kaplan-Meier, log-rank, hazard by tenure).

Fitted on the per-customer lifetimes of :func:`kvar.metrics.lifetimes.customer_lifetimes` (built in the
engine; only that small table is handed to lifelines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kvar.errors import InputError
from kvar.i18n import tr
from kvar.metrics.frames import rows_of


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
