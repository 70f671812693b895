"""What a template sees of a customer: ``customer`` in Jinja2, built in the engine for the customers messaged.

``customer`` holds the customers table's row (``first_name``, ``email``, ``timezone`` and any other column) and:

================  ===========================================================================================
``orders``        purchase orders so far (:func:`kvar.metrics.orders.purchases`), ``spent`` their amount
``last_order``    the latest purchase: ``occurred_at`` (UTC) and ``amount``
``plan``, ``mrr`` the plan of the subscription with the largest MRR active at ``as_of``, and the customer's
                  MRR then (the sum over active subscriptions, :func:`kvar.metrics.activity.active_at`)
``segment``       the RFM segment at ``as_of`` (:func:`kvar.metrics.segments.rfm_segments`)
``clv``           12-month discounted CLV (BG/NBD + Gamma-Gamma, :func:`kvar.models.clv.customer_value`)
``risk``          churn probability of kvar's churn-risk model, ``reasons`` its top reasons in words
================  ===========================================================================================

Models are fitted only when a template of the flows file reads ``customer.clv``, ``customer.risk`` or
``customer.reasons`` (:func:`template_fields`); a value that the tables cannot give is left out, and the template
sees it as empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import narwhals as nw

from kvar.flows.spec import FlowFile
from kvar.flows.triggers import Tables
from kvar.metrics.activity import OPEN_END, active_at
from kvar.metrics.frames import rows_of, table_of
from kvar.metrics.orders import purchases

_MODELLED = {"clv", "risk", "reasons", "segment"}


def template_fields(flows: FlowFile) -> set[str]:
    """The attributes of ``customer`` that the flows' templates and subjects read (``customer.x``,
    ``customer["x"]``)."""
    environment = jinja2.Environment()
    sources = []
    for flow in flows.flows:
        for step in flow.steps:
            if step.subject:
                sources.append(step.subject)
            for name in (step.template, (step.template or "").replace(".html.j2", ".txt.j2")):
                path = Path(flows.path).parent / name if name else None
                if path is not None and path.is_file():
                    sources.append(path.read_text(encoding="utf-8"))
    fields: set[str] = set()
    for source in sources:
        tree = environment.parse(source)
        for node in tree.find_all(jinja2.nodes.Getattr):
            if isinstance(node.node, jinja2.nodes.Name) and node.node.name == "customer":
                fields.add(node.attr)
        for item in tree.find_all(jinja2.nodes.Getitem):
            if isinstance(item.node, jinja2.nodes.Name) and item.node.name == "customer":
                if isinstance(item.arg, jinja2.nodes.Const) and isinstance(item.arg.value, str):
                    fields.add(item.arg.value)
    return fields


def profiles(
    tables: Tables, customers: Iterable[str], *, as_of: dt.datetime, fields: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each of ``customers``' profile at ``as_of`` (the models' values only when in ``fields``)."""
    wanted = sorted(set(customers))
    if not wanted:
        return {}
    fields = _MODELLED if fields is None else fields
    out: dict[str, dict[str, Any]] = {customer: {"customer_id": customer} for customer in wanted}
    if tables.customers is not None:
        people, _ = table_of(tables.customers, "customers", ["customer_id"])
        for row in rows_of(_only(people, wanted)):
            out[str(row["customer_id"])].update({**row, "customer_id": str(row["customer_id"])})
    if tables.transactions is not None:
        _add_orders(out, tables, wanted, as_of)
        if "segment" in fields:
            _add_segments(out, tables, wanted, as_of)
        if "clv" in fields:
            _add_clv(out, tables, wanted, as_of)
    if tables.subscriptions is not None:
        _add_plans(out, tables, wanted, as_of)
    if fields & {"risk", "reasons"} and tables.subscriptions is not None and tables.events is not None:
        _add_risk(out, tables, wanted, as_of)
    return out


def _only(frame: nw.LazyFrame, customers: list[str]) -> nw.LazyFrame:
    return frame.with_columns(nw.col("customer_id").cast(nw.String)).filter(nw.col("customer_id").is_in(customers))


def _add_orders(out: dict[str, dict[str, Any]], tables: Tables, customers: list[str], as_of: dt.datetime) -> None:
    facts, _ = table_of(tables.transactions, "transactions", ["customer_id", "occurred_at"])
    bought = _only(purchases(facts), customers).filter(nw.col("occurred_at") < nw.lit(as_of))
    has_amount = "amount" in bought.collect_schema().names()
    amount = nw.col("amount") if has_amount else nw.lit(None, nw.Float64)
    summary = (
        bought.with_columns(amount=amount)
        .group_by("customer_id")
        .agg(
            orders=nw.len(),
            spent=nw.col("amount").sum(),
            last_at=nw.col("occurred_at").max(),
        )
    )
    last = (
        bought.with_columns(amount=amount)
        .join(summary.select("customer_id", "last_at"), on="customer_id")
        .filter(nw.col("occurred_at") == nw.col("last_at"))
        .group_by("customer_id")
        .agg(last_amount=nw.col("amount").sum())
    )
    for row in rows_of(summary.join(last, on="customer_id", how="left")):
        out[row["customer_id"]].update(
            orders=row["orders"],
            spent=row["spent"] if has_amount else None,
            last_order={"occurred_at": row["last_at"], "amount": row["last_amount"] if has_amount else None},
        )


def _add_plans(out: dict[str, dict[str, Any]], tables: Tables, customers: list[str], as_of: dt.datetime) -> None:
    intervals, _ = table_of(tables.subscriptions, "subscriptions", ["customer_id", "started_at", "mrr"])
    names = intervals.collect_schema().names()
    end = nw.col("ended_at").fill_null(nw.lit(OPEN_END)) if "ended_at" in names else nw.lit(OPEN_END)
    active = _only(intervals, customers).filter(active_at(nw.col("started_at"), end, nw.lit(as_of)))
    plan = nw.col("plan").cast(nw.String) if "plan" in names else nw.lit(None, nw.String)
    rows = rows_of(active.select("customer_id", nw.col("mrr").cast(nw.Float64), plan=plan))
    for row in sorted(rows, key=lambda r: (r["customer_id"], -r["mrr"], r["plan"] or "")):
        profile = out[row["customer_id"]]
        if "mrr" not in profile:
            profile.update(plan=row["plan"], mrr=0.0)
        profile["mrr"] += row["mrr"]


def _add_segments(out: dict[str, dict[str, Any]], tables: Tables, customers: list[str], as_of: dt.datetime) -> None:
    from kvar.metrics.segments import rfm_segments

    scored, _ = table_of(rfm_segments(tables.transactions, as_of=as_of), "segments", ["customer_id", "segment"])
    for row in rows_of(_only(scored.select("customer_id", "segment"), customers)):
        out[row["customer_id"]]["segment"] = row["segment"]


def _add_clv(out: dict[str, dict[str, Any]], tables: Tables, customers: list[str], as_of: dt.datetime) -> None:
    from kvar.errors import InputError
    from kvar.metrics.purchases import customer_summary
    from kvar.models.clv import customer_value

    facts, _ = table_of(tables.transactions, "transactions", ["customer_id", "occurred_at"])
    observed = facts.filter(nw.col("occurred_at") < nw.lit(as_of))
    try:
        valued = customer_value(customer_summary(observed.to_native()))
    except InputError:  # too few repeat buyers to fit the models: no CLV to show
        return
    for row in rows_of(_only(nw.from_native(valued.customers).lazy(), customers)):
        if row.get("clv") is not None:
            out[row["customer_id"]]["clv"] = row["clv"]


def _add_risk(out: dict[str, dict[str, Any]], tables: Tables, customers: list[str], as_of: dt.datetime) -> None:
    from kvar.metrics.churn_features import churn_features
    from kvar.models.churn_risk import current_risk

    features = churn_features(
        tables.subscriptions, tables.events, tables.payments, tables.feedback, tables.customers, as_of=as_of
    )
    scored, _ = table_of(current_risk(features), "churn risk", ["customer_id"])
    for row in rows_of(_only(scored, customers)):
        out[row["customer_id"]].update(risk=row["churn_probability"], reasons=list(row["reasons"]))
