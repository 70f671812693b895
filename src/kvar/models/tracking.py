"""Does a fitted purchase model track reality? The two checks of Fader, Hardie & Lee (2005).

* :func:`repeat_purchase_tracking`: cumulative repeat purchases per period since the cohort's first
  purchase, actual vs expected (``sum_i E[X(t - t_i)]`` over each customer's first purchase ``t_i``), through
  calibration and holdout (the paper's Figure 2).
* :func:`holdout_by_frequency`: mean purchases in the holdout per calibration frequency, actual vs the
  model's conditional expectation (the paper's Figure 4).

Purchases are counted as in the CLV summary: one per customer and day with a transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw
import numpy as np

from kvar.metrics.frames import rows_of, table_of
from kvar.metrics.periods import DAYS_PER_UNIT, FIXED_UNITS, check_unit, with_epoch_days


def repeat_purchase_tracking(
    model: Any, transactions: Any, *, unit: str = "W", calibration_end: dt.date | None = None
) -> list[dict[str, Any]]:
    """Rows ``period, actual, actual_cumulative, expected_cumulative, calibration`` (periods of ``unit``)."""
    facts, _ = table_of(transactions, "transactions", ["customer_id", "occurred_at"])
    days = (
        with_epoch_days(facts.select("customer_id", "occurred_at"), "occurred_at", "day")
        .select("customer_id", "day")
        .unique()
    )
    firsts = days.group_by("customer_id").agg(first_day=nw.col("day").min())
    origin = int(rows_of(firsts.select(nw.col("first_day").min()))[0]["first_day"])
    last = int(rows_of(days.select(nw.col("day").max()))[0]["day"])
    width = int(DAYS_PER_UNIT[check_unit(unit, allowed=FIXED_UNITS)])
    repeats = (
        days.join(firsts, on="customer_id")
        .filter(nw.col("day") > nw.col("first_day"))
        .with_columns(period=(nw.col("day") - origin) // width)
        .group_by("period")
        .agg(actual=nw.len().cast(nw.Int64))
    )
    actual = {int(row["period"]): int(row["actual"]) for row in rows_of(repeats)}
    first_days = np.array([row["first_day"] for row in rows_of(firsts)], dtype=float)
    periods = (last - origin) // width + 1
    calibration_day = (calibration_end - dt.date(1970, 1, 1)).days if calibration_end else last
    out, cumulative = [], 0
    for period in range(periods):
        end = origin + (period + 1) * width  # exclusive end of the period, in days
        ages = (end - first_days - 1) / width  # units since each first purchase (the first day is day 0)
        expected = float(model.expected_purchases_new_customer(ages[ages > 0]).sum())
        cumulative += actual.get(period, 0)
        out.append(
            {
                "period": period + 1,
                "actual": actual.get(period, 0),
                "actual_cumulative": cumulative,
                "expected_cumulative": expected,
                "calibration": end - 1 <= calibration_day,
            }
        )
    return out


def holdout_by_frequency(model: Any, summary: Any, *, largest: int = 7) -> list[dict[str, Any]]:
    """Per calibration frequency 0..``largest`` (the last row pools ``largest`` and more): customers, mean
    actual holdout purchases and the model's mean conditional expectation over the holdout duration."""
    frame, _ = table_of(
        summary, "customer summary", ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]
    )
    rows = rows_of(frame.select("frequency", "recency", "T", "frequency_holdout", "duration_holdout"))
    x = np.array([r["frequency"] for r in rows], dtype=float)
    predicted = model.expected_purchases_arrays(
        float(rows[0]["duration_holdout"]),
        x,
        np.array([r["recency"] for r in rows], dtype=float),
        np.array([r["T"] for r in rows], dtype=float),
    )
    actual = np.array([r["frequency_holdout"] for r in rows], dtype=float)
    out = []
    for value in range(largest + 1):
        members = x >= value if value == largest else x == value
        if members.any():
            out.append(
                {
                    "frequency": f"{value}+" if value == largest else str(value),
                    "customers": int(members.sum()),
                    "actual": float(actual[members].mean()),
                    "expected": float(predicted[members].mean()),
                }
            )
    return out
