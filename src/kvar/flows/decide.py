"""Who gets which message when: the decisions of a flows file at an instant, before anything is sent.

For each flow, in file order, every occurrence of its trigger in ``[since, as_of)``
(:func:`kvar.flows.triggers.occurrences`) of a customer in its audience gives one message per sending step,
scheduled at the occurrence plus the waits before the step. Then, in this order:

1. **Holdout.** A customer is held out of a flow when ``bucket(flow, customer) < holdout × 10,000``, and of every
   marketing flow when ``bucket("kvar-global", customer) < global × 10,000``, with
   ``bucket(salt, customer) = first 8 bytes of SHA-256("salt:customer_id") mod 10,000``: the same customers
   whatever the order or the day, and independent between flows. Transactional flows have no global holdout.
   With a :class:`~kvar.flows.ledger.Ledger`, the assignment stored the first time a customer was seen wins, so
   that changing a share later never reshuffles anyone (the worker stores; a preview only reads).
2. **Quiet hours.** An e-mail due inside the quiet hours (in the customer's ``timezone``, else the policy's) is
   deferred to their end, never dropped. Webhooks (a CRM hand-off) go when due.
3. **Caps.** Per customer, channel and calendar day (and Monday-to-Sunday week) in the customer's time zone, at
   most ``per_day`` (``per_week``) marketing messages, taken in order of time, flow and step; the rest are held
   back. Transactional flows are exempt.

``decision`` is ``send``, ``held_out``, ``suppressed`` or ``capped``; ``reason`` says why in words; ``key`` is the
message's idempotency key ``flow:customer:instant:step``. With a ledger, a message already recorded keeps its
recorded decision, and recorded messages count towards the caps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import narwhals as nw

from kvar.errors import ParameterError
from kvar.flows.spec import Flow, FlowFile
from kvar.flows.suppressions import Suppressions
from kvar.flows.triggers import Tables, occurrences
from kvar.i18n import marked, tr
from kvar.metrics.frames import rows_of, table_of

if TYPE_CHECKING:
    from kvar.flows.ledger import Ledger

BUCKETS = 10_000
_HOLDOUTS = {"global": marked("in the global holdout"), "flow": marked("in the flow's holdout")}
GLOBAL_SALT = "kvar-global"


def bucket(salt: str, customer_id: str) -> int:
    """The customer's holdout bucket for ``salt`` (a flow's name, or :data:`GLOBAL_SALT`): 0 to 9,999."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def holdouts(
    flow: Flow, customers: list[str], global_share: float, ledger: Ledger | None = None, *, store: bool = False
) -> dict[str, str | None]:
    """Why each of ``customers`` is held out of ``flow`` (``"global"`` or ``"flow"``), or ``None``: by bucket, or
    as stored in ``ledger`` (storing new assignments when ``store``)."""
    by_flow = {customer: bucket(flow.name, customer) < flow.holdout * BUCKETS for customer in customers}
    by_global = (
        {customer: bucket(GLOBAL_SALT, customer) < global_share * BUCKETS for customer in customers}
        if flow.kind == "marketing"
        else {}
    )
    if ledger is not None:
        by_flow = ledger.holdouts(flow.name, by_flow, store=store)
        by_global = ledger.holdouts(GLOBAL_SALT, by_global, store=store)
    return {
        customer: "global" if by_global.get(customer) else "flow" if by_flow[customer] else None
        for customer in customers
    }


@dataclass(frozen=True)
class Decisions:
    """The messages decided (``rows``), and the flows that could not be decided on these tables, with why."""

    rows: list[dict[str, Any]]
    skipped: dict[str, str]


def decide(
    flows: FlowFile,
    tables: Tables,
    *,
    as_of: dt.datetime,
    since: dt.datetime | None = None,
    suppressions: Suppressions | None = None,
    ledger: Ledger | None = None,
    store: bool = False,
) -> Decisions:
    """Every message the flows decide at ``as_of`` for the occurrences in ``[since, as_of)`` (default: the
    day before), in order of ``scheduled_at``, flow and step. Times are UTC. A flow whose trigger needs a
    table that is not there (payments for dunning, say) is skipped and named in ``skipped``. With ``ledger``,
    recorded decisions and holdout assignments win (new assignments are stored when ``store``)."""
    since = since or as_of - dt.timedelta(days=1)
    if since >= as_of:
        raise ParameterError(tr("--since must be before --as-of"))
    zones = _time_zones(tables, flows.policies.timezone)
    segments = _segments(flows, tables, as_of)
    messages: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for order, flow in enumerate(flows.flows):
        try:
            fired = occurrences(flow, tables, since=since, as_of=as_of)
        except ParameterError as error:
            skipped[flow.name] = str(error)
            continue
        if flow.audience and segments is not None:  # in the engine: only the audience's occurrences leave it
            audience = segments.filter(nw.col("segment").is_in(list(flow.audience))).select("customer_id")
            fired = fired.join(audience, on="customer_id", how="semi")
        fired_rows = rows_of(fired)
        held = holdouts(
            flow,
            sorted({str(row["customer_id"]) for row in fired_rows}),
            flows.policies.global_holdout,
            ledger,
            store=store,
        )
        for occurrence in fired_rows:
            customer = str(occurrence["customer_id"])
            messages.extend(_messages(flows, flow, order, customer, occurrence["occurred_at"], held[customer], zones))
    # The key (flow:customer:instant:step) makes the order unique: two occurrences deferred to the same opening of
    # the quiet hours meet the caps in the order of their instants, whatever order the engine returned them in.
    messages.sort(key=lambda m: (m["scheduled_at"], m["_order"], m["step"], m["customer_id"], m["key"]))
    recorded = _recorded(ledger, messages)
    for message in messages:
        if message["key"] in recorded:
            message.update({name: recorded[message["key"]][name] for name in ("scheduled_at", "decision", "reason")})
    if suppressions is not None:
        kinds = {flow.name: flow.kind for flow in flows.flows}
        for message in messages:
            if message["key"] in recorded:
                continue
            blocked = suppressions.blocks(
                message["customer_id"], message["channel"], marketing=kinds[message["flow"]] == "marketing"
            )
            if message["decision"] == "send" and blocked:
                message["decision"], message["reason"] = (
                    "suppressed",
                    tr("on the suppression list: {reason}").format(reason=blocked),
                )
    _apply_caps(flows, messages, zones, recorded)
    for message in messages:
        del message["_order"]
    return Decisions(messages, skipped)


def _recorded(ledger: Ledger | None, messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ledger's messages, by key, of the customers of ``messages`` in the weeks around them (for the caps)."""
    if ledger is None or not messages:
        return {}
    week = dt.timedelta(days=8)
    found = ledger.recorded(
        (message["customer_id"] for message in messages),
        min(message["scheduled_at"] for message in messages) - week,
        max(message["scheduled_at"] for message in messages) + week,
    )
    return {row["key"]: row for row in found}


def _messages(
    flows: FlowFile,
    flow: Flow,
    order: int,
    customer: str,
    occurred_at: dt.datetime,
    holdout: str | None,
    zones: dict[str, str],
) -> list[dict[str, Any]]:
    out, due = [], occurred_at
    key = f"{flow.name}:{customer}:{occurred_at.isoformat()}"
    for number, step in enumerate(flow.steps, start=1):
        if step.kind == "wait":
            due += step.wait or dt.timedelta(0)
            continue
        channel = step.channel or next(name for name, c in flows.channels.items() if c.kind == step.kind)
        if flows.channels[channel].kind == "email":  # quiet hours spare people, not a CRM's webhook
            scheduled, deferred = _outside_quiet_hours(flows, due, zones.get(customer, flows.policies.timezone))
        else:
            scheduled, deferred = due, None
        if holdout:
            decision, reason = "held_out", tr(_HOLDOUTS[holdout])
        else:
            decision = "send"
            reason = tr("{trigger} at {at:%Y-%m-%d %H:%M}").format(trigger=flow.trigger, at=occurred_at)
            if step.unless:
                reason += tr(", unless {condition} by then").format(condition=step.unless)
            if deferred:
                reason += tr("; deferred by quiet hours from {at:%H:%M}").format(at=deferred)
        out.append(
            {
                "key": f"{key}:{number}",
                "flow": flow.name,
                "step": number,
                "customer_id": customer,
                "channel": channel,
                "scheduled_at": scheduled,
                "decision": decision,
                "reason": reason,
                "occurrence": key,
                "occurred_at": occurred_at,
                "deferred": deferred is not None,
                "_order": order,
            }
        )
    return out


def _outside_quiet_hours(flows: FlowFile, due: dt.datetime, zone: str) -> tuple[dt.datetime, dt.datetime | None]:
    """``(when it may go, the local time it was due when deferred, else None)``; times UTC, naive."""
    start, end = flows.policies.quiet_start, flows.policies.quiet_end
    if start is None or end is None:
        return due, None
    tz = zoneinfo.ZoneInfo(zone)
    local = due.replace(tzinfo=dt.UTC).astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    quiet = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not quiet:
        return due, None
    # Wall-clock arithmetic in the customer's zone: the end of the quiet hours that day, whatever the DST.
    opens = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if opens <= local:
        opens = (local + dt.timedelta(days=1)).replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return opens.astimezone(dt.UTC).replace(tzinfo=None), local.replace(tzinfo=None)


def _apply_caps(
    flows: FlowFile, messages: list[dict[str, Any]], zones: dict[str, str], recorded: dict[str, dict[str, Any]]
) -> None:
    kinds = {flow.name: flow.kind for flow in flows.flows}
    per_day: Counter[tuple[str, str, dt.date]] = Counter()
    per_week: Counter[tuple[str, str, tuple[int, int]]] = Counter()

    def capped(message: Mapping[str, Any]) -> tuple[tuple[str, str, dt.date], tuple[str, str, tuple[int, int]]] | None:
        """The day and week a message counts in, when a cap applies to it."""
        caps = flows.policies.caps.get(message["channel"])
        if not caps or message["decision"] != "send" or kinds.get(message["flow"]) != "marketing":
            return None
        zone = zoneinfo.ZoneInfo(zones.get(message["customer_id"], flows.policies.timezone))
        local = message["scheduled_at"].replace(tzinfo=dt.UTC).astimezone(zone).date()
        return (message["customer_id"], message["channel"], local), (
            message["customer_id"],
            message["channel"],
            local.isocalendar()[:2],
        )

    for message in recorded.values():  # what is already booked counts first
        counted = capped(message)
        if counted:
            per_day[counted[0]] += 1
            per_week[counted[1]] += 1
    for message in messages:
        counted = capped(message)
        if counted is None or message["key"] in recorded:
            continue
        caps = flows.policies.caps[message["channel"]]
        day, week = counted
        if "per_day" in caps and per_day[day] >= caps["per_day"]:
            message["decision"], message["reason"] = (
                "capped",
                tr("over the cap of {cap} a day on {channel}").format(cap=caps["per_day"], channel=message["channel"]),
            )
            continue
        if "per_week" in caps and per_week[week] >= caps["per_week"]:
            message["decision"], message["reason"] = (
                "capped",
                tr("over the cap of {cap} a week on {channel}").format(
                    cap=caps["per_week"], channel=message["channel"]
                ),
            )
            continue
        per_day[day] += 1
        per_week[week] += 1


def _time_zones(tables: Tables, default: str) -> dict[str, str]:
    """Each customer's time zone from the customers table's ``timezone`` column (when it has one); an unknown
    zone name falls back to the policy's zone."""
    if tables.customers is None:
        return {}
    people, _ = table_of(tables.customers, "customers", ["customer_id"])
    if "timezone" not in people.collect_schema().names():
        return {}
    rows = rows_of(people.filter(~nw.col("timezone").is_null()).select("customer_id", "timezone"))
    return {str(row["customer_id"]): row["timezone"] for row in rows if _known_zone(row["timezone"])}


def _known_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _segments(flows: FlowFile, tables: Tables, as_of: dt.datetime) -> nw.LazyFrame | None:
    """Each customer's RFM segment at ``as_of`` (``customer_id``, ``segment``), when some flow has an audience."""
    if not any(flow.audience for flow in flows.flows):
        return None
    if tables.transactions is None:
        raise ParameterError(tr("an audience by segment needs transactions (RFM segments)"))
    from kvar.metrics.segments import rfm_segments

    scored, _ = table_of(rfm_segments(tables.transactions, as_of=as_of), "segments", ["customer_id", "segment"])
    return scored.select("customer_id", "segment")
