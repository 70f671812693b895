"""Churn-risk features at observation dates, built in the engine (Fighting Churn with Data's method).

For every observation date ``d`` (month starts) and every customer active just before ``d`` (contractual
definition, subscriptions), the features look back from ``d`` only, with explicit windows:

=========================  ===========================================================================
feature                    definition (all windows end at ``d``, exclusive)
=========================  ===========================================================================
tenure_days                days since the customer was acquired
events_30d, events_prev    events in the last 30 days, and in the 30 days before those
activity_trend             events_30d - events_prev (negative: usage is falling)
users_30d                  distinct users with events in the last 30 days
days_since_event           days since the last event within the 90-day lookback (90 when none)
mrr                        MRR at ``d``; mrr_change_90d: MRR at ``d`` minus MRR 90 days before
failed_payments_30d        failed payment attempts in the last 30 days
last_nps                   the latest NPS answer within 180 days (missing when none)
plan, channel              the plan at ``d`` and the acquisition channel (categories)
=========================  ===========================================================================

The label is 1 when the customer's spell ends within ``horizon`` days after ``d`` (churned), else 0;
observation dates whose horizon runs past ``as_of`` are unlabelled (used for scoring only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw

from kvar.metrics.activity import (
    OPEN_END,
    active_at,
    intervals_from_subscriptions,
    spells,
)
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation
from kvar.metrics.frames import as_lazy, exact_sum, frame_like, table_of
from kvar.metrics.periods import boundaries, with_epoch_days

NUMERIC_FEATURES = (
    "tenure_days",
    "events_30d",
    "events_prev",
    "activity_trend",
    "users_30d",
    "days_since_event",
    "mrr",
    "mrr_change_90d",
    "failed_payments_30d",
    "last_nps",
)
CATEGORICAL_FEATURES = ("plan", "channel")


def _window_counts(
    observations: nw.LazyFrame, facts: nw.LazyFrame, start: str, end: str, name: str, condition: nw.Expr | None = None
) -> nw.LazyFrame:
    """Per (customer, d): rows of ``facts`` with ``d - start <= occurred_at < d - end``."""
    rows = facts if condition is None else facts.filter(condition)
    joined = (
        observations.select("customer_id", "observed_at")
        .join(rows.select("customer_id", "occurred_at"), on="customer_id")
        .filter(
            nw.col("occurred_at") >= nw.col("observed_at").dt.offset_by(f"-{start}"),
            nw.col("occurred_at")
            < (nw.col("observed_at").dt.offset_by(f"-{end}") if end != "0d" else nw.col("observed_at")),
        )
    )
    return joined.group_by("customer_id", "observed_at").agg(nw.len().cast(nw.Int64).alias(name))


def churn_features(
    subscriptions: Any,
    events: Any,
    payments: Any = None,
    feedback: Any = None,
    customers: Any = None,
    *,
    horizon_days: int = 60,
    as_of: dt.datetime | None = None,
) -> Any:
    """One row per (customer, observation date) with the features above, ``label`` and ``labelled``, in the
    subscriptions' kind of frame, ordered by ``observed_at`` and ``customer_id``."""
    subs, finish = table_of(subscriptions, "subscriptions", ["customer_id", "started_at", "ended_at", "mrr"])
    acts, _ = table_of(events, "events", ["customer_id", "occurred_at"])
    first, as_of = observation(subs, SUBSCRIPTION_OBSERVED, as_of)
    dates = boundaries(first, as_of, "month")[3:]  # leave a 90-day lookback before the first observation
    horizon = dt.timedelta(days=horizon_days)
    calendar = frame_like(subs, {"observed_at": dates, "labelled": [d + horizon <= as_of for d in dates]})
    customer_spells = spells(intervals_from_subscriptions(subs))
    observations = (
        customer_spells.join(calendar, how="cross")
        .filter(active_at(nw.col("spell_start"), nw.col("spell_end"), nw.col("observed_at")))
        .with_columns(
            label=(nw.col("spell_end") <= nw.col("observed_at").dt.offset_by(f"{horizon_days}d")).cast(nw.Int64),
        )
    )
    keyed = observations.select("customer_id", "observed_at", "acquired_at", "label", "labelled")
    features = keyed
    for frame in (
        _window_counts(keyed, acts, "30d", "0d", "events_30d"),
        _window_counts(keyed, acts, "60d", "30d", "events_prev"),
    ):
        features = features.join(frame, on=["customer_id", "observed_at"], how="left")
    recent = (
        keyed.select("customer_id", "observed_at")
        .join(
            acts.select(
                "customer_id", "occurred_at", *(["user_id"] if "user_id" in acts.collect_schema().names() else [])
            ),
            on="customer_id",
        )
        .filter(
            nw.col("occurred_at") >= nw.col("observed_at").dt.offset_by("-90d"),
            nw.col("occurred_at") < nw.col("observed_at"),
        )
    )
    users = recent.filter(nw.col("occurred_at") >= nw.col("observed_at").dt.offset_by("-30d"))
    user_column = "user_id" if "user_id" in acts.collect_schema().names() else "customer_id"
    features = features.join(
        users.group_by("customer_id", "observed_at").agg(users_30d=nw.col(user_column).n_unique().cast(nw.Int64)),
        on=["customer_id", "observed_at"],
        how="left",
    ).join(
        recent.group_by("customer_id", "observed_at").agg(last_event=nw.col("occurred_at").max()),
        on=["customer_id", "observed_at"],
        how="left",
    )
    mrr_at = subs.with_columns(ended_at=nw.col("ended_at").fill_null(nw.lit(OPEN_END)))
    for name, shift in (("mrr", None), ("mrr_before", "-90d")):
        point = nw.col("observed_at").dt.offset_by(shift) if shift else nw.col("observed_at")
        level = (
            keyed.select("customer_id", "observed_at")
            .join(
                mrr_at.select(
                    "customer_id",
                    "started_at",
                    "ended_at",
                    "mrr",
                    *(["plan"] if name == "mrr" and "plan" in subs.collect_schema().names() else []),
                ),
                on="customer_id",
            )
            .filter(active_at(nw.col("started_at"), nw.col("ended_at"), point))
        )
        aggregates = [exact_sum("mrr", subs).alias(name)]
        if name == "mrr" and "plan" in subs.collect_schema().names():
            aggregates.append(nw.col("plan").max())
        features = features.join(
            level.group_by("customer_id", "observed_at").agg(*aggregates), on=["customer_id", "observed_at"], how="left"
        )
    if payments is not None:
        paid, _ = as_lazy(payments)
        failed = nw.col("status").cast(nw.String).str.to_lowercase() == "failed"
        features = features.join(
            _window_counts(
                keyed, paid.select("customer_id", "occurred_at", "status"), "30d", "0d", "failed_payments_30d", failed
            ),
            on=["customer_id", "observed_at"],
            how="left",
        )
    else:
        features = features.with_columns(failed_payments_30d=nw.lit(0, nw.Int64))
    if feedback is not None:
        answers, _ = as_lazy(feedback)
        nps = (
            keyed.select("customer_id", "observed_at")
            .join(
                answers.filter(nw.col("kind").cast(nw.String).str.to_lowercase() == "nps").select(
                    "customer_id", "occurred_at", "score"
                ),
                on="customer_id",
            )
            .filter(
                nw.col("occurred_at") < nw.col("observed_at"),
                nw.col("occurred_at") >= nw.col("observed_at").dt.offset_by("-180d"),
            )
        )
        latest = nps.filter(nw.col("occurred_at") == nw.col("occurred_at").max().over("customer_id", "observed_at"))
        features = features.join(
            latest.group_by("customer_id", "observed_at").agg(last_nps=nw.col("score").cast(nw.Float64).mean()),
            on=["customer_id", "observed_at"],
            how="left",
        )
    else:
        features = features.with_columns(last_nps=nw.lit(None, nw.Float64))
    if customers is not None and "channel" in as_lazy(customers)[0].collect_schema().names():
        people, _ = as_lazy(customers)
        features = features.join(
            people.group_by("customer_id").agg(nw.col("channel").min()), on="customer_id", how="left"
        )
    else:
        features = features.with_columns(channel=nw.lit("unknown"))
    if "plan" not in features.collect_schema().names():
        features = features.with_columns(plan=nw.lit("unknown"))
    dated = with_epoch_days(
        with_epoch_days(with_epoch_days(features, "observed_at", "d_day"), "acquired_at", "a_day"),
        "last_event",
        "e_day",
    )
    table = dated.select(
        "customer_id",
        "observed_at",
        "label",
        "labelled",
        tenure_days=(nw.col("d_day") - nw.col("a_day")).cast(nw.Float64),
        events_30d=nw.col("events_30d").fill_null(0).cast(nw.Float64),
        events_prev=nw.col("events_prev").fill_null(0).cast(nw.Float64),
        activity_trend=(nw.col("events_30d").fill_null(0) - nw.col("events_prev").fill_null(0)).cast(nw.Float64),
        users_30d=nw.col("users_30d").fill_null(0).cast(nw.Float64),
        days_since_event=(nw.col("d_day") - nw.col("e_day")).fill_null(90).cast(nw.Float64),
        mrr=nw.col("mrr").fill_null(0.0),
        mrr_change_90d=(nw.col("mrr").fill_null(0.0) - nw.col("mrr_before").fill_null(0.0)),
        failed_payments_30d=nw.col("failed_payments_30d").fill_null(0).cast(nw.Float64),
        last_nps=nw.col("last_nps"),
        plan=nw.col("plan").cast(nw.String).fill_null("unknown"),
        channel=nw.col("channel").cast(nw.String).fill_null("unknown"),
    )
    return finish(table.sort("observed_at", "customer_id"))
