"""Sending what the flows decide, durably, on DBOS Transact.

A run (:func:`run_once`) decides the occurrences since the previous run, records the decided messages in the
ledger (:class:`kvar.flows.ledger.Ledger`, which is the schedule), and enqueues every recorded message that is due
and not yet sent on the DBOS queue ``kvar-flows``, as one workflow whose id is the message's idempotency key,
``flow:customer:instant:step``. Enqueuing an id that exists never runs it again, so a second run, a run after a
crash, or a second worker sends nothing twice; a workflow interrupted by a crash is resumed by DBOS (on the
restarted worker with the same executor id) from its last finished step. The workflow has one step, ``send``: unless the suppression list blocks the message at that moment, compose it
(recipient, subject and bodies rendered from the flow's Jinja2 templates with the customer's profile,
:func:`kvar.flows.profiles.profiles`; a template that fails for this customer dead-letters this message with the
reason, and the others go) and make one attempt through the channel (:func:`kvar.flows.email.send_email`,
:func:`kvar.flows.webhooks.post_webhook`). An attempt that should be tried again (a 4xx reply, a 5xx answer, no
connection) is tried again after a durable pause (1 s, doubling, ±20 % jitter, or the receiver's Retry-After when
longer), at most 5 attempts in all, then dead-lettered. Composing inside the
step costs nothing in safety (the same profile renders the same message) and saves a write per message.

Delivery is therefore at least once: a crash between a server's acceptance and DBOS recording the step sends
the message again, with the same ``Message-ID`` / ``webhook-id``, for the receiver to drop.

DBOS keeps its state in its own database, never in the DuckDB workspace: by default an SQLite file beside the
workspace (``shop.duckdb`` → ``shop.flows.sqlite``); a PostgreSQL URL serves several workers, each with its
own executor id, dequeuing from the same queue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2
from dbos import DBOS, DBOSConfig, SetWorkflowID

from kvar.flows.conditions import condition_met
from kvar.flows.decide import decide
from kvar.flows.email import Outcome, build_email, send_email
from kvar.flows.ledger import Ledger
from kvar.flows.profiles import profiles, template_fields
from kvar.flows.spec import Channel, FlowFile, read_flows
from kvar.flows.suppressions import Suppressions
from kvar.flows.triggers import Tables
from kvar.flows.webhooks import post_webhook
from kvar.i18n import tr

QUEUE = "kvar-flows"


@contextmanager
def durable(url: str, *, executor: str = "local", concurrency: int = 8, drain_seconds: int = 0) -> Iterator[None]:
    """DBOS running on the system database ``url`` for the duration of the block, as executor ``executor``
    (a restarted worker resumes the workflows of its executor id), sending at most ``concurrency`` messages at a
    time from the queue. On leaving, up to ``drain_seconds`` are given to messages still being sent (a worker
    stopped with SIGTERM finishes what it took from the queue rather than leave it for its next start).

    An SQLite state file is switched to write-ahead logging first (a setting the file keeps): a commit then
    writes the log once instead of the journal and the database, and readers never wait for the writer.
    """
    config: DBOSConfig = {
        "name": "kvar-flows",
        "system_database_url": url,
        "console_log_level": "WARNING",  # kvar prints its own progress
        "application_version": f"kvar-{version('kvar')}",  # a restarted worker of this version resumes its workflows
        "executor_id": executor,
    }
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
        config["db_engine_kwargs"] = {"creator": lambda: _sqlite_connection(path)}
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=concurrency, polling_interval_sec=0.01)
    try:
        yield
    finally:
        DBOS.destroy(workflow_completion_timeout_sec=drain_seconds)


def compose(message: dict[str, Any], flows_path: str) -> dict[str, Any]:
    """What will be sent: recipient, subject, HTML and text (or a webhook's payload)."""
    flows, templates = _flows_and_templates(flows_path, Path(flows_path).stat().st_mtime_ns)
    flow = next(flow for flow in flows.flows if flow.name == message["flow"])
    step = flow.steps[message["step"] - 1]
    profile = message["profile"]
    if step.kind == "webhook":
        return {
            "payload": {"flow": flow.name, "step": message["step"], "customer": profile, "reason": message["reason"]}
        }
    context = {"customer": profile, "flow": flow.name}
    html = templates.get_template(step.template or "").render(context)
    text_name = (step.template or "").replace(".html.j2", ".txt.j2")
    try:
        text = templates.get_template(text_name).render(context) if text_name != step.template else ""
    except jinja2.TemplateNotFound:
        text = ""
    subject = templates.from_string(step.subject or flow.name).render(context)
    return {"to": profile.get("email"), "subject": subject, "html": html, "text": text or _plain(html)}


@lru_cache(maxsize=4)
def _flows_and_templates(flows_path: str, modified: int) -> tuple[FlowFile, jinja2.Environment]:
    """The flows file and its templates' environment, read once per version of the file (``modified``)."""
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(flows_path).parent), autoescape=True, undefined=jinja2.ChainableUndefined
    )
    return read_flows(flows_path), templates


def _plain(html: str) -> str:
    """A plain-text version of an HTML body (tags dropped)."""
    return re.sub(r"<[^>]+>", "", html).strip()


#: Attempts per message, and the pause before each retry (seconds, doubling), before jitter and Retry-After.
ATTEMPTS = 5
FIRST_PAUSE = 1.0
#: The longest Retry-After honoured; a receiver asking for more is retried after this.
LONGEST_PAUSE = 3600.0


def pause_before_retry(key: str, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``FIRST_PAUSE × 2^(attempt − 1)`` with ±20 % jitter (a
    fixed draw per message and attempt, so that a replay waits alike), or the receiver's ``Retry-After`` when it
    asks for longer (at most :data:`LONGEST_PAUSE`)."""
    draw = int.from_bytes(hashlib.sha256(f"{key}:{attempt}".encode()).digest()[:4], "big") / 2**32
    backoff = FIRST_PAUSE * 2 ** (attempt - 1) * (0.8 + 0.4 * draw)
    return min(max(backoff, retry_after or 0.0), LONGEST_PAUSE)


def _sqlite_connection(path: str) -> sqlite3.Connection:
    """A connection to the SQLite state file that commits without waiting for the disk (``synchronous=NORMAL``
    in write-ahead-log mode): a commit survives the worker's crash, as the crash test checks; a power cut may
    lose the last commits, whose messages are then sent again (at least once still holds)."""
    connection = sqlite3.connect(path, timeout=30, check_same_thread=False)
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


@DBOS.step()
def send(message: dict[str, Any], flows_path: str, channel: dict[str, Any], suppressed: str) -> dict[str, Any]:
    """One attempt, unless the suppression list (at ``suppressed``) blocks it now or the channel is disabled:
    compose, then send. A hard bounce joins the suppression list; a 410 disables the channel. A template that
    fails for this customer is not retried: the message is dead-lettered with the error."""
    target = Channel(channel["name"], channel["kind"], channel["settings"])
    key = f"{message['occurrence']}:{message['step']}"
    suppressions = Suppressions(Path(suppressed))
    disabled = suppressions.channel_disabled(target.name)
    if disabled:
        return {"status": "disabled", "detail": disabled}
    blocked = suppressions.blocks(message["customer_id"], target.name, marketing=message["kind"] == "marketing")
    if blocked:
        return {"status": "suppressed", "detail": blocked}
    try:
        content = compose(message, flows_path)
    except Exception as error:  # noqa: BLE001 - a template error for this customer: dead-lettered, the others go
        return {"status": "dead", "detail": f"{type(error).__name__}: {error}"}
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
    if outcome.status == "bounced":
        suppressions.add(message["customer_id"], "hard_bounce", target.name)
    if outcome.status == "disabled":
        suppressions.disable_channel(target.name, outcome.detail)
    return {"status": outcome.status, "detail": outcome.detail, "retry_after": outcome.retry_after}


@DBOS.workflow()
def deliver(message: dict[str, Any], flows_path: str, channel: dict[str, Any], suppressed: str) -> dict[str, str]:
    """Send one message: up to :data:`ATTEMPTS` durable attempts with durable pauses between them
    (:func:`pause_before_retry`); after the last one it is dead-lettered with the reason."""
    key = f"{message['occurrence']}:{message['step']}"
    for attempt in range(1, ATTEMPTS + 1):
        result = send(message, flows_path, channel, suppressed)
        if result["status"] != "retry":
            return {"status": result["status"], "detail": result["detail"]}
        if attempt < ATTEMPTS:
            DBOS.sleep(pause_before_retry(key, attempt, result.get("retry_after")))
    return {
        "status": "dead",
        "detail": tr("{attempts} attempts, the last: {detail}").format(attempts=ATTEMPTS, detail=result["detail"]),
    }


@dataclass(frozen=True)
class RunSummary:
    """What one run did: per flow, the messages it found due and their outcomes (``delivered``, ``bounced``,
    ``failed``, ``disabled``, ``dead``, ``cancelled``, ``suppressed``)."""

    as_of: dt.datetime
    rows: list[dict[str, Any]]


STATUSES = ("delivered", "bounced", "failed", "disabled", "dead", "cancelled", "suppressed")


def run_once(
    flows: FlowFile,
    tables: Tables,
    ledger: Ledger,
    *,
    as_of: dt.datetime,
    suppressed: Path,
    since: dt.datetime | None = None,
) -> RunSummary:
    """Decide the occurrences in ``[since, as_of)`` (default: from the previous run's ``as_of``, else the day
    before), record them, and send every recorded message due by ``as_of`` (inside :func:`durable`), checking
    the suppression list at ``suppressed`` as each message goes."""
    since = since or ledger.last_as_of() or as_of - dt.timedelta(days=1)
    if flows.flows:
        ledger.remember_goals({flow.name: flow.goal for flow in flows.flows})
    if since < as_of:
        ledger.record(decide(flows, tables, as_of=as_of, since=since, ledger=ledger, store=True).rows)
    due = ledger.due(as_of)
    by_name = {flow.name: flow for flow in flows.flows}
    outcomes: list[tuple[str, str, str]] = [
        (row["key"], "cancelled", tr("the flow is no longer in the flows file"))
        for row in due
        if row["flow"] not in by_name
    ]
    outcomes += [
        (
            row["key"],
            "cancelled",
            tr("the channel {channel} is no longer in the flows file").format(channel=row["channel"]),
        )
        for row in due
        if row["flow"] in by_name and row["channel"] not in flows.channels
    ]
    due = [row for row in due if row["flow"] in by_name and row["channel"] in flows.channels]
    met = _unless_met(tables, due, by_name)
    outcomes += [
        (row["key"], "cancelled", tr("{condition} since the trigger").format(condition=met[row["key"]]))
        for row in due
        if row["key"] in met
    ]
    due = [row for row in due if row["key"] not in met]
    people = profiles(tables, {row["customer_id"] for row in due}, as_of=as_of, fields=template_fields(flows))
    queue = DBOS.retrieve_queue(QUEUE)
    assert queue is not None, "durable() registers the queue"
    handles = []
    for row in due:
        flow, channel = by_name[row["flow"]], flows.channels[row["channel"]]
        message = {
            **{key: row[key] for key in ("flow", "step", "customer_id", "occurrence", "reason")},
            "kind": flow.kind,
            "profile": people.get(row["customer_id"], {"customer_id": row["customer_id"]}),
        }
        with SetWorkflowID(row["key"]):
            handle = queue.enqueue(
                deliver,
                message,
                str(flows.path),
                {"name": channel.name, "kind": channel.kind, "settings": dict(channel.settings)},
                str(suppressed),
            )
        handles.append((row["key"], handle))
    for key, handle in handles:
        result = handle.get_result()
        outcomes.append((key, result["status"], result["detail"]))
    ledger.settle(outcomes)
    ledger.finish_run(as_of)
    counts = Counter((key.split(":", 1)[0], status) for key, status, _ in outcomes)
    rows = [
        {"flow": flow.name, **{status: counts[(flow.name, status)] for status in STATUSES}}
        | {"due": sum(counts[(flow.name, status)] for status in STATUSES)}
        for flow in flows.flows
    ]
    return RunSummary(as_of, rows)


def run_loop(
    flows_path: Path,
    read_tables: Callable[[], AbstractContextManager[Tables]],
    ledger: Ledger,
    *,
    suppressed: Path,
    every: dt.timedelta,
    stop: threading.Event,
    report: Callable[[RunSummary], None],
) -> None:
    """Run at the current time every ``every`` until ``stop`` is set, re-reading the flows file and the tables
    each time (so a new load or an edited flows file is used at the next run)."""
    while not stop.is_set():
        as_of = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with read_tables() as tables:
            report(run_once(read_flows(flows_path), tables, ledger, as_of=as_of, suppressed=suppressed))
        stop.wait(every.total_seconds())


def _unless_met(tables: Tables, due: list[dict[str, Any]], flows: dict[str, Any]) -> dict[str, str]:
    """The keys of the due messages whose step's ``unless`` condition holds between the occurrence and the
    message's time, with the condition (:func:`kvar.flows.conditions.condition_met`)."""
    met: dict[str, str] = {}
    for condition in ("purchased", "payment_recovered", "active"):
        asked = [row for row in due if flows[row["flow"]].steps[row["step"] - 1].unless == condition]
        answers = condition_met(
            tables, condition, [(row["customer_id"], row["occurred_at"], row["scheduled_at"]) for row in asked]
        )
        met.update({row["key"]: condition for row, hit in zip(asked, answers, strict=True) if hit})
    return met
