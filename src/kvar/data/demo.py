"""A seeded generator of a realistic subscription business, for ``kvar demo`` and tests with known truth.

The business: customers sign up over two years through four channels, on three plans. Each month a
customer may upgrade, downgrade or cancel; cancellation risk depends on channel and plan and jumps after
product usage falls. Usage (events) declines in the two months before a voluntary cancellation; some
cancellations are involuntary, after failed payment attempts. Some churned customers come back. Customers
pay a monthly invoice (a transaction and a payment attempt) and buy occasional add-ons; some answer NPS
surveys, and leavers may give an exit reason.

Known truth the tests rely on: the churn drivers are usage decline, failed payments, channel
(``paid_search`` churns most) and plan (``basic`` churns most).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kvar.i18n import tr

PLANS = {"basic": 29.0, "pro": 79.0, "business": 199.0}  # USD a seat a month
#: Prices in other currencies: the USD prices times a round factor, as a local price list would set them.
PRICE_FACTORS = {"USD": 1.0, "EUR": 1.0, "SEK": 10.0, "NOK": 10.0, "DKK": 7.0}
_PLAN_ORDER = list(PLANS)
CHANNELS = {"organic": 0.025, "referral": 0.018, "paid_search": 0.055, "partner": 0.03}
_PLAN_RISK = {"basic": 1.4, "pro": 1.0, "business": 0.6}
COUNTRIES = ("US", "GB", "DE", "FR", "SE", "NL", "CA")
#: Each country's time zone (for the flows' quiet hours and caps) and the first names the demo's customers get,
#: in turn (not drawn, so that adding them left every generated number as it was).
TIME_ZONES = {
    "US": "America/New_York",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "SE": "Europe/Stockholm",
    "NL": "Europe/Amsterdam",
    "CA": "America/Toronto",
}
FIRST_NAMES = ("Astrid", "Liam", "Ingrid", "Noah", "Sofia", "Oskar", "Emma", "Lukas", "Maja", "Elias", "Nora", "Hugo")
EXIT_REASONS = ("too expensive", "missing features", "switched to competitor", "no longer needed", "poor support")


@dataclass
class DemoData:
    """Rows of each table, ready to write as CSV."""

    customers: list[dict[str, object]] = field(default_factory=list)
    subscriptions: list[dict[str, object]] = field(default_factory=list)
    transactions: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    feedback: list[dict[str, object]] = field(default_factory=list)
    payments: list[dict[str, object]] = field(default_factory=list)

    def write(self, directory: Path) -> dict[str, Path]:
        """Write one CSV per table into ``directory``; return their paths by table name."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("customers", "subscriptions", "transactions", "events", "feedback", "payments"):
            rows = getattr(self, name)
            path = directory / f"{name}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            paths[name] = path
        return paths


def _month_start(day: dt.datetime, months: int) -> dt.datetime:
    index = day.year * 12 + day.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def _stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def generate(
    customers: int = 2000, seed: int = 7, end: dt.datetime = dt.datetime(2026, 7, 1), currency: str = "USD"
) -> DemoData:
    """Generate ``customers`` customers whose history runs up to ``end`` (exclusive), priced in ``currency``
    (one of :data:`PRICE_FACTORS`; the same business whatever the currency)."""
    if currency not in PRICE_FACTORS:
        from kvar.errors import ParameterError

        raise ParameterError(
            tr("currency {code!r}: the demo prices in {codes}").format(code=currency, codes=", ".join(PRICE_FACTORS))
        )
    rng = np.random.default_rng(seed)
    start = _month_start(end, -24)
    span_days = (end - start).days
    data = DemoData()
    channel_names = list(CHANNELS)
    for number in range(1, customers + 1):
        customer_id = f"C{number:05d}"
        signed_up = start + dt.timedelta(days=float(rng.uniform(0, span_days - 20)))
        channel = channel_names[rng.choice(4, p=[0.4, 0.15, 0.3, 0.15])]
        plan = _PLAN_ORDER[rng.choice(3, p=[0.5, 0.35, 0.15])]
        seats = int(rng.integers(1, 6)) if plan != "basic" else 1
        users = [f"{customer_id}-U{index}" for index in range(1, int(rng.integers(1, seats + 1)) + 1)]
        country = COUNTRIES[rng.integers(len(COUNTRIES))]
        data.customers.append(
            {
                "customer_id": customer_id,
                "signed_up_at": _stamp(signed_up),
                "channel": channel,
                "country": country,
                "plan": plan,
                "email": f"{customer_id.lower()}@example.com",
                "first_name": FIRST_NAMES[number % len(FIRST_NAMES)],
                "timezone": TIME_ZONES[country],
            }
        )
        _simulate_customer(rng, data, customer_id, signed_up, channel, plan, seats, users, end)
    _add_dirty_rows(data)
    _price_in(data, currency)
    return data


def _price_in(data: DemoData, currency: str) -> None:
    """Restate the generated USD amounts in ``currency`` (the rejects' unknown code XYZ stays as it is)."""
    if currency == "USD":
        return
    factor = PRICE_FACTORS[currency]
    for rows, column in ((data.subscriptions, "mrr"), (data.transactions, "amount"), (data.payments, "amount")):
        for row in rows:
            row[column] = f"{float(str(row[column])) * factor:.2f}"
            if row["currency"] == "USD":
                row["currency"] = currency


def _simulate_customer(
    rng: np.random.Generator,
    data: DemoData,
    customer_id: str,
    signed_up: dt.datetime,
    channel: str,
    plan: str,
    seats: int,
    users: list[str],
    end: dt.datetime,
) -> None:
    interval_start, mrr = signed_up, PLANS[plan] * seats
    usage = float(rng.gamma(4.0, 3.0))  # events per month while healthy
    month, active, declining, involuntary = signed_up, True, 0, False
    sub_number = 0
    while month < end:
        following = min(month + dt.timedelta(days=30), end)
        if active:
            decline = 0.35 if declining else 1.0
            _emit_events(rng, data, customer_id, users, month, following, usage * decline)
            failed = involuntary and declining == 1
            _bill(rng, data, customer_id, month, mrr, failed)
            if declining:
                declining -= 1
                if declining == 0:
                    sub_number += 1
                    _close_interval(data, customer_id, sub_number, plan, interval_start, following, mrr, seats)
                    _maybe_exit_feedback(rng, data, customer_id, following, involuntary)
                    active, interval_start = False, following
                    month = following
                    continue
            elif rng.random() < CHANNELS[channel] * _PLAN_RISK[plan]:
                involuntary = rng.random() < 0.25
                declining = 1 if involuntary else 2
            elif rng.random() < 0.04 and plan != "business":
                sub_number += 1
                _close_interval(data, customer_id, sub_number, plan, interval_start, following, mrr, seats)
                plan = _PLAN_ORDER[_PLAN_ORDER.index(plan) + 1]
                interval_start, mrr = following, PLANS[plan] * seats
            elif rng.random() < 0.015 and plan != "basic":
                sub_number += 1
                _close_interval(data, customer_id, sub_number, plan, interval_start, following, mrr, seats)
                plan = _PLAN_ORDER[_PLAN_ORDER.index(plan) - 1]
                interval_start, mrr = following, PLANS[plan] * seats
            if rng.random() < 0.1:
                _nps(rng, data, customer_id, month, usage * (0.35 if declining else 1.0))
        elif rng.random() < 0.06:
            active, involuntary, interval_start = True, False, month
            usage = float(rng.gamma(4.0, 3.0))
        month = following
    if active:
        sub_number += 1
        _close_interval(data, customer_id, sub_number, plan, interval_start, None, mrr, seats)


def _close_interval(
    data: DemoData,
    customer_id: str,
    number: int,
    plan: str,
    started: dt.datetime,
    ended: dt.datetime | None,
    mrr: float,
    seats: int,
) -> None:
    data.subscriptions.append(
        {
            "subscription_id": f"{customer_id}-S{number}",
            "customer_id": customer_id,
            "plan": plan,
            "started_at": _stamp(started),
            "ended_at": _stamp(ended) if ended else "",
            "mrr": f"{mrr:.2f}",
            "currency": "USD",
            "quantity": seats,
        }
    )


def _emit_events(
    rng: np.random.Generator,
    data: DemoData,
    customer_id: str,
    users: list[str],
    start: dt.datetime,
    end: dt.datetime,
    rate: float,
) -> None:
    seconds = (end - start).total_seconds()
    count = int(rng.poisson(rate * seconds / (30 * 86400)))
    if count == 0:
        return
    offsets = np.sort(rng.uniform(0, seconds, count)).astype("timedelta64[s]")
    stamps = np.datetime_as_string(np.datetime64(start, "s") + offsets, unit="s")
    names = np.array(("login", "report_viewed", "export", "invite_sent"))[
        rng.choice(4, size=count, p=[0.55, 0.3, 0.1, 0.05])
    ]
    who = np.array(users)[rng.integers(len(users), size=count)]
    data.events.extend(
        {"customer_id": customer_id, "occurred_at": stamp.replace("T", " "), "event": name, "user_id": user}
        for stamp, name, user in zip(stamps.tolist(), names.tolist(), who.tolist(), strict=True)
    )


def _bill(
    rng: np.random.Generator, data: DemoData, customer_id: str, when: dt.datetime, amount: float, failed: bool
) -> None:
    invoice = f"INV-{customer_id}-{when:%Y%m%d}"
    attempts = 3 if failed else 1
    for attempt in range(attempts):
        at = when + dt.timedelta(days=3 * attempt, hours=1)
        status = "failed" if failed else "succeeded"
        data.payments.append(
            {
                "payment_id": f"{invoice}-{attempt + 1}",
                "customer_id": customer_id,
                "invoice_id": invoice,
                "occurred_at": _stamp(at),
                "amount": f"{amount:.2f}",
                "currency": "USD",
                "status": status,
                "failure_code": "card_declined" if failed else "",
            }
        )
    if not failed:
        data.transactions.append(
            {
                "transaction_id": invoice,
                "customer_id": customer_id,
                "occurred_at": _stamp(when + dt.timedelta(hours=1)),
                "amount": f"{amount:.2f}",
                "currency": "USD",
                "kind": "purchase",
                "product": "subscription",
            }
        )
        if rng.random() < 0.05:
            addon = float(rng.choice([15.0, 49.0, 120.0]))
            data.transactions.append(
                {
                    "transaction_id": f"{invoice}-A",
                    "customer_id": customer_id,
                    "occurred_at": _stamp(when + dt.timedelta(days=10)),
                    "amount": f"{addon:.2f}",
                    "currency": "USD",
                    "kind": "purchase",
                    "product": "add-on",
                }
            )


def _nps(rng: np.random.Generator, data: DemoData, customer_id: str, when: dt.datetime, usage: float) -> None:
    score = int(np.clip(round(rng.normal(5.0 + usage / 5.0, 2.0)), 0, 10))
    data.feedback.append(
        {
            "customer_id": customer_id,
            "occurred_at": _stamp(when + dt.timedelta(days=14)),
            "kind": "nps",
            "score": score,
            "text": "",
            "reason": "",
        }
    )


def _maybe_exit_feedback(
    rng: np.random.Generator, data: DemoData, customer_id: str, when: dt.datetime, involuntary: bool
) -> None:
    if involuntary or rng.random() > 0.4:
        return
    data.feedback.append(
        {
            "customer_id": customer_id,
            "occurred_at": _stamp(when),
            "kind": "exit",
            "score": "",
            "text": "",
            "reason": EXIT_REASONS[rng.integers(len(EXIT_REASONS))],
        }
    )


def _add_dirty_rows(data: DemoData) -> None:
    """Three rows a real export would contain, so the demo shows the rejects table at work."""
    template = dict(data.transactions[0])
    data.transactions.append({**template, "transaction_id": "BAD-1", "occurred_at": "31/02/2026"})
    data.transactions.append({**template, "transaction_id": "BAD-2", "currency": "XYZ"})
    data.transactions.append(dict(template))  # the same transaction id exported twice
