"""Webhooks of a flow (a CRM hand-off), signed as Standard Webhooks specifies, and one delivery attempt.

Each request is a JSON ``POST`` with the headers ``webhook-id`` (derived from the idempotency key: the same
message sent again carries the same id, for the receiver to drop the copy), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed with the secret
(``whsec_`` followed by base64, or any other text used as it is) read from the environment variable the
channel names.

Outcomes of an attempt (15 s timeout, redirects never followed): ``delivered`` for 2xx; ``disabled`` for 410
(the receiver says the endpoint is gone); ``retry`` for 408, 429, 5xx, a timeout or no connection, with
``Retry-After`` honoured (seconds or an HTTP date); ``failed`` for any other answer, redirects included.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import os
import time
from typing import Any

import httpx

from kvar.flows.email import Outcome
from kvar.flows.spec import Channel
from kvar.i18n import tr

TIMEOUT = 15.0


def webhook_id(key: str) -> str:
    """The ``webhook-id`` of the message with idempotency ``key``."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def signature(secret: str, identifier: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{id}.{timestamp}.{body}"`` (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    digest = hmac.new(key, f"{identifier}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def post_webhook(channel: Channel, payload: dict[str, Any], key: str, *, timeout: float = TIMEOUT) -> Outcome:
    """One signed attempt to deliver ``payload`` to the channel's URL."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
    identifier, timestamp = webhook_id(key), int(time.time())
    headers = {"content-type": "application/json", "webhook-id": identifier, "webhook-timestamp": str(timestamp)}
    secret = os.environ.get(channel.settings.get("secret_env", ""), "")
    if secret:
        headers["webhook-signature"] = signature(secret, identifier, timestamp, body)
    try:
        answer = httpx.post(
            channel.settings["webhook_url"], content=body, headers=headers, timeout=timeout, follow_redirects=False
        )
    except httpx.TimeoutException:
        return Outcome("retry", tr("no answer within {seconds:g} s").format(seconds=timeout))
    except httpx.HTTPError as error:
        return Outcome("retry", tr("no connection: {error}").format(error=error))
    status = answer.status_code
    if 200 <= status < 300:
        return Outcome("delivered", str(status))
    if status == 410:
        return Outcome("disabled", tr("410 Gone: the endpoint is disabled"))
    if status in (408, 429) or status >= 500:
        return Outcome("retry", str(status), _retry_after(answer.headers.get("retry-after")))
    if 300 <= status < 400:
        return Outcome(
            "failed",
            tr("{status} redirect to {where}: redirects are not followed").format(
                status=status, where=answer.headers.get("location", "?")
            ),
        )
    return Outcome("failed", str(status))


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date from now."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    when = email.utils.parsedate_to_datetime(value)
    return max(0.0, when.timestamp() - time.time()) if when else None
