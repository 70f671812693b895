"""sBG per acquisition cohort, fitted on survivors built from subscription data.

A cohort is the customers acquired in one period (default: year). Its survivors at offset ``k`` are the
members whose first activity spell is active at the start of the ``k``-th following period
(:func:`~kvar.metrics.activity.active_at`: still running just before it; offset 0: everyone acquired). Only boundaries observed by ``as_of`` count. Each cohort with at
least three observed offsets and some churn gets its own :class:`ShiftedBetaGeometric`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import narwhals as nw

from kvar.errors import InputError
from kvar.metrics.activity import active_at, intervals_from_subscriptions, spells
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation
from kvar.metrics.frames import frame_like, rows_of, table_of
from kvar.metrics.periods import boundaries, check_period, period_start
from kvar.models.shifted_beta_geometric import ShiftedBetaGeometric


def cohort_survivors(
    subscriptions: Any, *, period: str = "year", grace: str | None = None, as_of: dt.datetime | None = None
) -> dict[dt.datetime, list[int]]:
    """Survivor counts per cohort start, offsets 0, 1, … up to the last boundary observed by ``as_of``.

    A member survives to a boundary when their first spell is active there (:func:`active_at`, kvar's side
    of the instant). Counted in the engine: only the counts per cohort and boundary leave it.
    """
    check_period(period)
    subs, _ = table_of(subscriptions, "subscriptions", ["customer_id", "started_at", "ended_at"])
    first_seen, as_of = observation(subs, SUBSCRIPTION_OBSERVED, as_of)
    members = (
        spells(intervals_from_subscriptions(subs, grace))
        .filter(nw.col("spell_start") == nw.col("acquired_at"), nw.col("acquired_at") < nw.lit(as_of))
        .with_columns(cohort=period_start("acquired_at", period))
    )
    points = boundaries(first_seen, as_of, period)
    calendar = frame_like(subs, {"boundary": points}).with_columns(nw.col("boundary").cast(nw.Datetime("us")))
    sizes = members.group_by("cohort").agg(size=nw.len())
    alive = (
        members.join(calendar, how="cross")
        .filter(
            nw.col("boundary") > nw.col("cohort"),
            active_at(nw.col("spell_start"), nw.col("spell_end"), nw.col("boundary")),
        )
        .group_by("cohort", "boundary")
        .agg(survivors=nw.len())
    )
    counts = {(row["cohort"], row["boundary"]): int(row["survivors"]) for row in rows_of(alive)}
    survivors = {}
    for row in sorted(rows_of(sizes), key=lambda row: row["cohort"]):
        start = row["cohort"]
        later = [point for point in points if point > start]
        survivors[start] = [int(row["size"])] + [counts.get((start, point), 0) for point in later]
    return survivors


def sbg_by_cohort(
    subscriptions: Any,
    *,
    period: str = "year",
    project: int = 12,
    grace: str | None = None,
    as_of: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per cohort: size, observed survivors, and (when fittable) alpha, beta, log-likelihood and
    projected survivors up to ``project`` periods; ``note`` says why a cohort was not fitted."""
    rows = []
    for start, counts in cohort_survivors(subscriptions, period=period, grace=grace, as_of=as_of).items():
        row: dict[str, Any] = {"cohort": start, "size": counts[0], "observed": counts}
        try:
            model = ShiftedBetaGeometric().fit_arrays(counts)
        except InputError as error:
            row["note"] = str(error)
        else:
            row.update(
                alpha=model.params_["alpha"],
                beta=model.params_["beta"],
                log_likelihood=model.log_likelihood_,
                projected=[p["survivors"] for p in model.projected_survivors(project)],
            )
        rows.append(row)
    return rows
