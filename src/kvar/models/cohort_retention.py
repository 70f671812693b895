"""sBG per acquisition cohort, fitted on survivors built from subscription data.

A cohort is the customers acquired in one period (default: year). Its survivors at offset ``k`` are the
members whose first activity spell is still running just before the start of the ``k``-th following
period (offset 0: everyone acquired). Only boundaries observed by ``as_of`` count. Each cohort with at
least three observed offsets and some churn gets its own :class:`ShiftedBetaGeometric`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import narwhals as nw

from kvar.errors import InputError
from kvar.metrics.activity import OPEN_END, intervals_from_subscriptions, spells
from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation
from kvar.metrics.frames import as_lazy, require_columns, rows_of
from kvar.metrics.periods import add_period, check_period, truncate
from kvar.models.shifted_beta_geometric import ShiftedBetaGeometric


def cohort_survivors(
    subscriptions: Any, *, period: str = "year", grace: str | None = None, as_of: dt.datetime | None = None
) -> dict[dt.datetime, list[int]]:
    """Survivor counts per cohort start, offsets 0, 1, … up to the last boundary observed by ``as_of``."""
    check_period(period)
    subs, _ = as_lazy(subscriptions)
    require_columns(subs, "subscriptions", ["customer_id", "started_at", "ended_at"])
    _, as_of = observation(subs, SUBSCRIPTION_OBSERVED, as_of)
    first = spells(intervals_from_subscriptions(subs, grace)).filter(nw.col("spell_start") == nw.col("acquired_at"))
    members: dict[dt.datetime, list[dt.datetime]] = defaultdict(list)
    for row in rows_of(first.select("acquired_at", "spell_end")):
        if row["acquired_at"] < as_of:
            members[truncate(row["acquired_at"], period)].append(row["spell_end"] or OPEN_END)
    survivors = {}
    for start, ends in sorted(members.items()):
        counts, k = [len(ends)], 1
        while (boundary := add_period(start, period, k)) <= as_of:
            counts.append(sum(end >= boundary for end in ends))
            k += 1
        survivors[start] = counts
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
