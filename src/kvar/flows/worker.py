"""Sending what the flows decide, durably, on DBOS Transact.

Each due message (decision ``send``, ``scheduled_at`` reached) is one DBOS workflow whose id is the message's
idempotency key, ``flow:customer:instant:step``. Starting a workflow whose id exists never runs it again, so a
second run (or a run after a crash) sends nothing twice; a workflow interrupted by a crash is resumed by DBOS
from its last finished step. The workflow has two steps:

1. ``compose``: the recipient, subject and bodies, rendered from the flow's Jinja2 templates with the customer's
   profile (the customers table's row: ``customer.first_name``, ``customer.email``, …; and the message) and
   recorded before anything is sent;
2. ``send``: one attempt through the channel (:func:`kvar.flows.email.send_email`,
   :func:`kvar.flows.webhooks.post_webhook`); an attempt that should be tried again (a 4xx reply, a 5xx answer, no
   connection) is retried by DBOS up to 5 times, 1 s apart and doubling.

Delivery is therefore at least once: a crash between a server's acceptance and DBOS recording the step sends
the message again, with the same ``Message-ID`` / ``webhook-id``, for the receiver to drop.

DBOS keeps its state in its own database, never in the DuckDB workspace: by default an SQLite file beside the
workspace (``shop.duckdb`` → ``shop.flows.sqlite``); a PostgreSQL URL serves several workers.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
import narwhals as nw
from dbos import DBOS, DBOSConfig, SetWorkflowID

from kvar.flows.decide import decide
from kvar.flows.email import Outcome, build_email, send_email
from kvar.flows.spec import Channel, FlowFile, read_flows
from kvar.flows.suppressions import Suppressions
from kvar.flows.triggers import Tables
from kvar.flows.webhooks import post_webhook
from kvar.metrics.frames import rows_of, table_of


class TryAgain(Exception):
    """An attempt the receiver asked to repeat later (DBOS retries the step)."""


def state_url(workspace: Path) -> str:
    """The default DBOS system database of a workspace: an SQLite file beside it."""
    return f"sqlite:///{workspace.with_suffix('.flows.sqlite')}"


@contextmanager
def durable(url: str) -> Iterator[None]:
    """DBOS running on the system database ``url`` for the duration of the block.

    An SQLite state file is switched to write-ahead logging first (a setting the file keeps): a commit then
    writes the log once instead of the journal and the database, and readers never wait for the writer.
    """
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    config: DBOSConfig = {
        "name": "kvar-flows",
        "system_database_url": url,
        "console_log_level": "WARNING",  # kvar prints its own progress
        "application_version": f"kvar-{version('kvar')}",  # a restarted worker of this version resumes its workflows
    }
    DBOS(config=config)
    DBOS.launch()
    try:
        yield
    finally:
        DBOS.destroy()


@DBOS.step()
def compose(message: dict[str, Any], flows_path: str) -> dict[str, Any]:
    """What will be sent: recipient, subject, HTML and text (recorded before sending)."""
    flows = read_flows(flows_path)
    flow = next(flow for flow in flows.flows if flow.name == message["flow"])
    step = flow.steps[message["step"] - 1]
    profile = message["profile"]
    if step.kind == "webhook":
        return {
            "payload": {"flow": flow.name, "step": message["step"], "customer": profile, "reason": message["reason"]}
        }
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(flows_path).parent), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    context = {"customer": profile, "flow": flow.name}
    html = templates.get_template(step.template or "").render(context)
    text_name = (step.template or "").replace(".html.j2", ".txt.j2")
    try:
        text = templates.get_template(text_name).render(context) if text_name != step.template else ""
    except jinja2.TemplateNotFound:
        text = ""
    subject = (
        jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(step.subject or flow.name).render(context)
    )
    return {"to": profile.get("email"), "subject": subject, "html": html, "text": text or _plain(html)}


def _plain(html: str) -> str:
    """A plain-text version of an HTML body (tags dropped)."""
    return re.sub(r"<[^>]+>", "", html).strip()


@DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=1.0, backoff_rate=2.0)
def send(message: dict[str, Any], content: dict[str, Any], channel: dict[str, Any], suppressed: str) -> dict[str, str]:
    """One attempt, unless the suppression list (at ``suppressed``) blocks it now; a hard bounce joins the list;
    :class:`TryAgain` (so that DBOS retries) when the receiver asked for it."""
    target = Channel(channel["name"], channel["kind"], channel["settings"])
    key = f"{message['occurrence']}:{message['step']}"
    suppressions = Suppressions(Path(suppressed))
    blocked = suppressions.blocks(message["customer_id"], target.name, marketing=message["kind"] == "marketing")
    if blocked:
        return {"status": "suppressed", "detail": blocked}
    if target.kind == "webhook":
        outcome = post_webhook(target, content["payload"], key)
    elif not content.get("to"):
        outcome = Outcome("failed", "the customer has no e-mail address")
    else:
        email = build_email(
            target,
            to=content["to"],
            subject=content["subject"],
            html=content["html"],
            text=content["text"],
            key=key,
            marketing=message["kind"] == "marketing",
            unsubscribe_token=message["customer_id"],
        )
        outcome = send_email(target, email)
    if outcome.status == "retry":
        raise TryAgain(outcome.detail)
    if outcome.status == "bounced":
        suppressions.add(message["customer_id"], "hard_bounce", target.name)
    return {"status": outcome.status, "detail": outcome.detail}


@DBOS.workflow()
def deliver(message: dict[str, Any], flows_path: str, channel: dict[str, Any], suppressed: str) -> dict[str, str]:
    """Compose, then send, one message."""
    content = compose(message, flows_path)
    try:
        return send(message, content, channel, suppressed)
    except Exception as error:  # noqa: BLE001 - after the last retry the message is dead-lettered with its reason
        return {"status": "dead", "detail": str(error)}


@dataclass(frozen=True)
class RunSummary:
    """What one run did: per flow, messages due and their outcomes (``delivered``, ``bounced``, ``failed``,
    ``disabled``, ``dead``, ``cancelled``, ``suppressed``)."""

    as_of: dt.datetime
    rows: list[dict[str, Any]]


def run_once(
    flows: FlowFile,
    tables: Tables,
    *,
    as_of: dt.datetime,
    suppressed: Path,
    since: dt.datetime | None = None,
) -> RunSummary:
    """Decide at ``as_of`` and send every message due by then (inside :func:`durable`), checking the
    suppression list at ``suppressed`` as each message goes."""
    decided = decide(flows, tables, as_of=as_of, since=since)
    due = [row for row in decided.rows if row["decision"] == "send" and row["scheduled_at"] <= as_of]
    profiles = _profiles(tables, {row["customer_id"] for row in due})
    kinds = {flow.name: flow for flow in flows.flows}
    counts: Counter[tuple[str, str]] = Counter()
    handles = []
    for row in due:
        flow = kinds[row["flow"]]
        step = flow.steps[row["step"] - 1]
        if step.unless == "purchased" and _purchased(
            tables, row["customer_id"], row["occurred_at"], row["scheduled_at"]
        ):
            counts[(row["flow"], "cancelled")] += 1
            continue
        channel = flows.channels[row["channel"]]
        message = {
            **{key: row[key] for key in ("flow", "step", "customer_id", "occurrence", "reason")},
            "kind": flow.kind,
            "profile": profiles.get(row["customer_id"], {"customer_id": row["customer_id"]}),
        }
        with SetWorkflowID(f"{row['occurrence']}:{row['step']}"):
            handles.append(
                (
                    row["flow"],
                    DBOS.start_workflow(
                        deliver,
                        message,
                        str(flows.path),
                        {"name": channel.name, "kind": channel.kind, "settings": dict(channel.settings)},
                        str(suppressed),
                    ),
                )
            )
    for flow_name, handle in handles:
        counts[(flow_name, handle.get_result()["status"])] += 1
    names = [flow.name for flow in flows.flows]
    rows = [
        {
            "flow": name,
            **{status: counts[(name, status)] for status in STATUSES},
            "due": sum(counts[(name, s)] for s in STATUSES),
        }
        for name in names
    ]
    return RunSummary(as_of, rows)


STATUSES = ("delivered", "bounced", "failed", "disabled", "dead", "cancelled", "suppressed")


def _profiles(tables: Tables, customers: set[str]) -> dict[str, dict[str, Any]]:
    """The customers table's rows of ``customers`` (what templates see as ``customer``)."""
    if tables.customers is None or not customers:
        return {}
    people, _ = table_of(tables.customers, "customers", ["customer_id"])
    wanted = people.filter(nw.col("customer_id").cast(nw.String).is_in(sorted(customers)))
    return {str(row["customer_id"]): {**row, "customer_id": str(row["customer_id"])} for row in rows_of(wanted)}


def _purchased(tables: Tables, customer: str, since: dt.datetime, until: dt.datetime) -> bool:
    """Whether the customer bought after the occurrence (``since``) and by ``until`` (``unless: purchased``)."""
    if tables.transactions is None:
        return False
    facts, _ = table_of(tables.transactions, "transactions", ["customer_id", "occurred_at"])
    bought = facts.filter(
        nw.col("customer_id").cast(nw.String) == customer,
        nw.col("occurred_at") > nw.lit(since),
        nw.col("occurred_at") <= nw.lit(until),
    )
    return bool(rows_of(bought.select(nw.len().alias("n")))[0]["n"])
