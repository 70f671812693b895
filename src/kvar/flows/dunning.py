"""The dunning schedule: when to retry a failed payment and when to tell the customer.

After an invoice's first failed attempt (day 0):

* a **soft decline** (insufficient funds, a processing error, …) is retried on days 3, 5 and 7; the customer is
  told on day 0 and once more the day before the final attempt (day 6);
* a **hard decline** (:data:`kvar.metrics.recovery.HARD_DECLINES`: lost or stolen card, fraud, do_not_try_again,
  an invalid account, …) is never retried: the customer is told on day 0 to update the card;
* a card on file is announced to expire 30, 15 and 7 days ahead.

Where the payment processor retries itself (Stripe Smart Retries), its retries replace kvar's and kvar sends the
notices (a ``payment_failed`` flow, ``unless: payment_recovered``) and measures (``kvar recovery``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kvar.metrics.recovery import is_hard_decline

RETRY_DAYS = (3, 5, 7)
EXPIRY_NOTICE_DAYS = (30, 15, 7)


def dunning_schedule(
    failure_code: str | None, failed_at: dt.datetime, *, retry_days: tuple[int, ...] = RETRY_DAYS
) -> list[dict[str, Any]]:
    """The actions after a first failure at ``failed_at``: ``at``, ``day`` and ``action`` (``notice``,
    ``retry`` or ``final_notice``), in order of time."""

    def action(day: int, name: str) -> dict[str, Any]:
        return {"day": day, "at": failed_at + dt.timedelta(days=day), "action": name}

    if is_hard_decline(failure_code) or not retry_days:
        return [action(0, "notice")]
    final = max(retry_days)
    steps = [action(0, "notice"), *(action(day, "retry") for day in sorted(retry_days))]
    steps.append(action(max(final - 1, 0), "final_notice"))
    return sorted(steps, key=lambda step: (step["day"], step["action"] != "final_notice"))


def expiry_notices(expires_at: dt.datetime, days: tuple[int, ...] = EXPIRY_NOTICE_DAYS) -> list[dt.datetime]:
    """When to tell a customer that the card on file expires at ``expires_at``."""
    return [expires_at - dt.timedelta(days=day) for day in sorted(days, reverse=True)]
