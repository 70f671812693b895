"""Did a customer do what a flow hoped for? One rule for a step's ``unless`` and a flow's ``goal``.

For a customer and an interval ``(since, until]``:

* ``purchased``: a purchase (:func:`kvar.metrics.orders.purchases`) in the interval;
* ``payment_recovered``: a succeeded payment in the interval;
* ``active``: a subscription active (:func:`kvar.metrics.activity.active_at`) at ``until``.

A step with ``unless: purchased`` is cancelled when the condition holds between the trigger's occurrence and
the step's time; a goal ``purchase_within: 30d`` is reached when it holds in the 30 days after the occurrence
(``payment_recovered_within``: ``payment_recovered``; ``active_after``: ``active``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import narwhals as nw

from kvar.flows.triggers import Tables
from kvar.metrics.activity import OPEN_END, active_at
from kvar.metrics.frames import frame_like, rows_of, table_of
from kvar.metrics.orders import purchases

#: The condition each goal checks.
GOAL_CONDITIONS = {
    "purchase_within": "purchased",
    "payment_recovered_within": "payment_recovered",
    "active_after": "active",
}
_SOURCES = {"purchased": "transactions", "payment_recovered": "payments", "active": "subscriptions"}


def condition_met(tables: Tables, condition: str, asked: Sequence[tuple[str, dt.datetime, dt.datetime]]) -> list[bool]:
    """For each ``(customer_id, since, until)`` of ``asked``, whether ``condition`` holds, decided in the engine
    in one join (``False`` throughout when the table the condition reads is not there)."""
    table = _SOURCES[condition]
    source = getattr(tables, table)
    if source is None or not asked:
        return [False] * len(asked)
    facts, _ = table_of(source, table, ["customer_id"])
    questions = frame_like(
        facts,
        {
            "question": list(range(len(asked))),
            "customer_id": [customer for customer, _, _ in asked],
            "since": [since for _, since, _ in asked],
            "until": [until for _, _, until in asked],
        },
    )
    facts = facts.with_columns(nw.col("customer_id").cast(nw.String))
    if condition == "active":
        names = facts.collect_schema().names()
        end = nw.col("ended_at").fill_null(nw.lit(OPEN_END)) if "ended_at" in names else nw.lit(OPEN_END)
        hits = facts.select("customer_id", "started_at", ended_at=end).join(questions, on="customer_id")
        hits = hits.filter(active_at(nw.col("started_at"), nw.col("ended_at"), nw.col("until")))
    else:
        if condition == "purchased":
            facts = purchases(facts)
        else:
            facts = facts.filter(nw.col("status").cast(nw.String).str.to_lowercase() == "succeeded")
        hits = facts.select("customer_id", "occurred_at").join(questions, on="customer_id")
        hits = hits.filter(nw.col("occurred_at") > nw.col("since"), nw.col("occurred_at") <= nw.col("until"))
    found = {row["question"] for row in rows_of(hits.select("question").unique())}
    return [index in found for index in range(len(asked))]
