"""When does a flow's trigger fire for a customer? Occurrences decided in the engine, like the metrics.

An *occurrence* is one firing of a trigger for one customer at one instant. Deciding at ``as_of`` looks at the
occurrences in ``[since, as_of)`` (by default the day before ``as_of``: a daily run). Each has a stable key
``flow:customer:instant``, so that deciding twice never starts a flow twice for the same occurrence.

=====================  =========================================================================================
trigger                fires at
=====================  =========================================================================================
``acquired``           the customer's first activity (:func:`kvar.metrics.activity.spells`' ``acquired_at``)
``inactive_for: 60d``  60 days after the last purchase (transactions) or the end of the last activity spell
                       (subscriptions), when nothing came after it
``anniversary_of``     each whole year after ``acquired_at``, while the customer is active then (a purchase in
                       the 90 days before, or an active subscription)
``before_renewal: 14d`` 14 days before a subscription's scheduled end (``ended_at`` after ``as_of``)
``risk_above: 0.30``   the latest observation date of kvar's churn-risk model, for customers scored above 0.30
``segment_entered``    ``as_of``, for customers in one of the segments now and in none of them at ``since``
``nps_detractor``      an NPS answer of 0 to 6
``payment_failed``     an invoice's first failed payment attempt (each attempt, when payments have no invoice_id)
``card_expiring: 30d`` 30 days before the customers table's ``card_expires_at``
=====================  =========================================================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import narwhals as nw

from kvar.errors import ParameterError
from kvar.flows.spec import Flow
from kvar.i18n import tr
from kvar.metrics.activity import OPEN_END, activity_source, spells
from kvar.metrics.frames import frame_like, rows_of, table_of
from kvar.metrics.orders import purchases
from kvar.metrics.tables import CustomerTables

#: The customer data flows decide on.
Tables = CustomerTables


def occurrences(flow: Flow, tables: Tables, *, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    """``customer_id`` and ``occurred_at`` of every firing of ``flow``'s trigger in ``[since, as_of)``."""
    decide = _TRIGGERS.get(flow.trigger)
    if decide is None:
        raise ParameterError(
            tr(
                "flow {flow}: the {trigger} trigger cannot be decided yet: no kvar table holds card expiry dates"
            ).format(flow=flow.name, trigger=flow.trigger)
        )
    fired = decide(flow.trigger_value, tables, since, as_of)
    window = (nw.col("occurred_at") >= nw.lit(since)) & (nw.col("occurred_at") < nw.lit(as_of))
    return fired.filter(window).select("customer_id", "occurred_at").unique().sort("customer_id", "occurred_at")


def _customer_spells(tables: Tables) -> nw.LazyFrame:
    source = activity_source(**tables.activity(), inactivity="90d", grace=None)  # kvar's default window
    return spells(source.intervals, equal_lengths=source.equal_lengths)


def _acquired(_: Any, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    first = _customer_spells(tables).group_by("customer_id").agg(nw.col("acquired_at").min())
    return first.select("customer_id", occurred_at=nw.col("acquired_at"))


def _inactive_for(value: str, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    if tables.transactions is not None and tables.subscriptions is None:
        facts, _ = table_of(tables.transactions, "transactions", ["customer_id", "occurred_at"])
        done = purchases(facts.filter(nw.col("occurred_at") < nw.lit(as_of)))
        last = done.group_by("customer_id").agg(last=nw.col("occurred_at").max())
    else:
        ended = _customer_spells(tables).group_by("customer_id").agg(last=nw.col("spell_end").max())
        last = ended.filter(nw.col("last") < nw.lit(OPEN_END))
    return last.select("customer_id", occurred_at=nw.col("last").dt.offset_by(value))


def _anniversary(_: Any, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    customer_spells = _customer_spells(tables)
    if as_of - since < dt.timedelta(days=366):  # only customers acquired on one of the window's days
        customer_spells = customer_spells.filter(_on_days(nw.col("acquired_at"), since, as_of))
    # Those few spells leave the engine once; their anniversaries inside the window are counted here.
    found = []
    for spell in rows_of(customer_spells.select("customer_id", "acquired_at", "spell_start", "spell_end")):
        acquired = spell["acquired_at"]
        for year in range(max(acquired.year + 1, since.year), as_of.year + 1):
            moment = _same_day(acquired, year)
            if since <= moment < as_of and spell["spell_start"] < moment <= spell["spell_end"]:
                found.append((spell["customer_id"], moment))
    if not found:
        return customer_spells.select("customer_id", occurred_at=nw.col("acquired_at")).head(0)
    return frame_like(customer_spells, {"customer_id": [c for c, _ in found], "occurred_at": [m for _, m in found]})


def _same_day(moment: dt.datetime, year: int) -> dt.datetime:
    """``moment`` in ``year`` (29 February becomes 28 February in other years)."""
    try:
        return moment.replace(year=year)
    except ValueError:
        return moment.replace(year=year, day=28)


def _on_days(moment: nw.Expr, since: dt.datetime, as_of: dt.datetime) -> nw.Expr:
    """Whether ``moment``'s month and day is one the window ``[since, as_of)`` covers (29 February counts
    where the window covers 28 February or 1 March, where its anniversaries fall in other years)."""
    days = {(since.date() + dt.timedelta(days=n)) for n in range((as_of.date() - since.date()).days + 1)}
    pairs = {(day.month, day.day) for day in days}
    if pairs & {(2, 28), (3, 1)}:
        pairs.add((2, 29))
    month, day = moment.dt.month(), moment.dt.day()
    condition = nw.lit(False)
    for m, d in sorted(pairs):
        condition = condition | ((month == m) & (day == d))
    return condition


def _before_renewal(value: str, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    if tables.subscriptions is None:
        raise ParameterError(tr("the before_renewal trigger needs subscriptions"))
    subs, _ = table_of(tables.subscriptions, "subscriptions", ["customer_id", "ended_at"])
    upcoming = subs.filter(nw.col("ended_at") > nw.lit(as_of))
    return upcoming.select("customer_id", occurred_at=nw.col("ended_at").dt.offset_by(f"-{value}"))


def _nps_detractor(_: Any, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    if tables.feedback is None:
        raise ParameterError(tr("the nps_detractor trigger needs feedback"))
    answers, _ = table_of(tables.feedback, "feedback", ["customer_id", "occurred_at", "kind", "score"])
    nps = nw.col("kind").cast(nw.String).str.to_lowercase() == "nps"
    return answers.filter(nps, nw.col("score") <= 6).select("customer_id", "occurred_at")


def _payment_failed(_: Any, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    if tables.payments is None:
        raise ParameterError(tr("the payment_failed trigger needs payments"))
    attempts, _ = table_of(tables.payments, "payments", ["customer_id", "occurred_at", "status"])
    failed = attempts.filter(nw.col("status").cast(nw.String).str.to_lowercase() == "failed")
    if "invoice_id" not in attempts.collect_schema().names():
        return failed.select("customer_id", "occurred_at")
    # One occurrence per failed invoice, at its first failure: the retries' failures do not restart the dunning.
    invoice = nw.coalesce(nw.col("invoice_id").cast(nw.String), nw.col("occurred_at").cast(nw.String))
    return (
        failed.with_columns(invoice=invoice)
        .group_by("customer_id", "invoice")
        .agg(nw.col("occurred_at").min())
        .select("customer_id", "occurred_at")
    )


def _card_expiring(value: str, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    if tables.customers is None:
        raise ParameterError(tr("the card_expiring trigger needs customers with a card_expires_at column"))
    people, _ = table_of(tables.customers, "customers", ["customer_id", "card_expires_at"])
    expiring = people.filter(~nw.col("card_expires_at").is_null())
    return expiring.select("customer_id", occurred_at=nw.col("card_expires_at").dt.offset_by(f"-{value}"))


def _risk_above(value: float, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    from kvar.metrics.churn_features import churn_features
    from kvar.models.churn_risk import current_risk

    if tables.subscriptions is None or tables.events is None:
        raise ParameterError(tr("the risk_above trigger needs subscriptions and events (kvar risk's inputs)"))
    features = churn_features(
        tables.subscriptions, tables.events, tables.payments, tables.feedback, tables.customers, as_of=as_of
    )
    scores, _ = table_of(current_risk(features, top=0), "churn risk", ["customer_id", "observed_at"])
    risky = scores.filter(nw.col("churn_probability") > float(value))
    return risky.select("customer_id", occurred_at=nw.col("observed_at"))


def _segment_entered(value: Any, tables: Tables, since: dt.datetime, as_of: dt.datetime) -> nw.LazyFrame:
    from kvar.flows.spec import SEGMENTS
    from kvar.metrics.segments import rfm_segments

    if tables.transactions is None:
        raise ParameterError(tr("the segment_entered trigger needs transactions (RFM segments)"))
    wanted = [SEGMENTS[name.casefold()] for name in ([value] if isinstance(value, str) else value)]
    now, _ = table_of(rfm_segments(tables.transactions, as_of=as_of), "segments", ["customer_id", "segment"])
    before, _ = table_of(rfm_segments(tables.transactions, as_of=since), "segments", ["customer_id", "segment"])
    was = before.filter(nw.col("segment").is_in(wanted)).select("customer_id")
    entered = now.filter(nw.col("segment").is_in(wanted)).join(was, on="customer_id", how="anti")
    at = as_of - dt.timedelta(microseconds=1)  # the last instant of the window: decided as of now
    return entered.select("customer_id", occurred_at=nw.lit(at))


Decide = Callable[[Any, Tables, dt.datetime, dt.datetime], nw.LazyFrame]
_TRIGGERS: dict[str, Decide] = {
    "acquired": _acquired,
    "inactive_for": _inactive_for,
    "anniversary_of": _anniversary,
    "before_renewal": _before_renewal,
    "risk_above": _risk_above,
    "segment_entered": _segment_entered,
    "nps_detractor": _nps_detractor,
    "payment_failed": _payment_failed,
    "card_expiring": _card_expiring,
}
