"""Delivery attempts against real receivers on 127.0.0.1: an SMTP server (aiosmtpd) and an HTTP server."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kvar.flows.email import build_email, message_id, send_email
from kvar.flows.spec import Channel
from kvar.flows.webhooks import post_webhook, signature, webhook_id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message; recipients at refused.example get ``refusal``."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.refusal = "550 5.1.1 no such user"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return self.refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted"


@pytest.fixture()
def smtp(mail_server: tuple[Inbox, int]) -> Iterator[tuple[Inbox, Channel]]:
    inbox, port = mail_server
    channel = Channel(
        "email",
        "email",
        {
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "from": "Shop <hello@shop.example>",
            "unsubscribe_url": "https://shop.example/u",
        },
    )
    yield inbox, channel


def _email(channel: Channel, to: str, marketing: bool = True) -> email.message.EmailMessage:
    return build_email(
        channel,
        to=to,
        subject="We miss you",
        html="<p>Hi</p>",
        text="Hi",
        key="winback:1:C1:2024-03-10",
        marketing=marketing,
        unsubscribe_token="t0k",
    )


def test_an_email_arrives_with_its_idempotent_id_and_one_click_unsubscribe(smtp) -> None:
    inbox, channel = smtp
    assert send_email(channel, _email(channel, "anna@example.se")).status == "delivered"
    (received,) = inbox.messages
    assert received["Message-ID"] == message_id("winback:1:C1:2024-03-10", "hello@shop.example")
    assert received["Message-ID"] == _email(channel, "anna@example.se")["Message-ID"]  # the same key, the same id
    assert (
        received["List-Unsubscribe"]
        .replace("\r\n", "")
        .startswith("<https://shop.example/u?token=t0k>, <mailto:hello@shop.example")
    )
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {part.get_content_type() for part in received.walk()} >= {"text/plain", "text/html"}


def test_a_transactional_email_has_no_unsubscribe_header(smtp) -> None:
    inbox, channel = smtp
    assert send_email(channel, _email(channel, "anna@example.se", marketing=False)).status == "delivered"
    assert inbox.messages[0]["List-Unsubscribe"] is None and inbox.messages[0]["List-Unsubscribe-Post"] is None


def test_a_5xx_refusal_is_a_hard_bounce_and_a_4xx_one_a_retry(smtp) -> None:
    inbox, channel = smtp
    bounced = send_email(channel, _email(channel, "nobody@refused.example"))
    assert (bounced.status, bounced.detail[:3]) == ("bounced", "550")
    inbox.refusal = "451 4.7.1 try again later"
    assert send_email(channel, _email(channel, "nobody@refused.example")).status == "retry"
    closed = Channel("email", "email", {"smtp_url": f"smtp://127.0.0.1:{free_port()}", "from": "a@b.example"})
    assert send_email(closed, _email(closed, "anna@example.se"), timeout=2).status == "retry"  # nobody listening


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers with ``server.answers`` in turn (status, headers) and keeps every request it got."""

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.requests.append((dict(self.headers), body))  # type: ignore[attr-defined]
        status, headers, delay = self.server.answers.pop(0) if self.server.answers else (200, {}, 0)  # type: ignore[attr-defined]
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Channel]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.requests, server.answers = [], []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("KVAR_TEST_SECRET", "whsec_" + base64.b64encode(b"a shared secret").decode())
    channel = Channel(
        "crm",
        "webhook",
        {"webhook_url": f"http://127.0.0.1:{server.server_port}/kvar", "secret_env": "KVAR_TEST_SECRET"},
    )
    yield server, channel
    server.shutdown()


def test_a_webhook_is_signed_as_standard_webhooks_says(receiver) -> None:
    server, channel = receiver
    assert post_webhook(channel, {"customer_id": "C1", "risk": 0.42}, "at_risk:1:C1:2024-03-10").status == "delivered"
    ((headers, body),) = server.requests
    assert headers["webhook-id"] == webhook_id("at_risk:1:C1:2024-03-10")
    # The signature computed here from the spec: HMAC-SHA256 over "id.timestamp.body" with the decoded secret.
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(b"a shared secret", signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + expected
    assert (
        signature(
            "whsec_" + base64.b64encode(b"a shared secret").decode(),
            headers["webhook-id"],
            int(headers["webhook-timestamp"]),
            body,
        )
        == "v1," + expected
    )
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 5


def test_webhook_answers_decide_retry_disable_or_fail(receiver) -> None:
    server, channel = receiver
    server.answers.extend(
        [
            (500, {}, 0),
            (429, {"Retry-After": "120"}, 0),
            (410, {}, 0),
            (302, {"Location": "http://elsewhere.example/"}, 0),
            (400, {}, 0),
        ]
    )
    outcomes = [post_webhook(channel, {"n": n}, f"key{n}") for n in range(5)]
    assert [o.status for o in outcomes] == ["retry", "retry", "disabled", "failed", "failed"]
    assert outcomes[1].retry_after == 120.0 and "not followed" in outcomes[3].detail
    assert len(server.requests) == 5  # the redirect was not followed


def test_a_hanging_receiver_fails_the_attempt_within_its_timeout(receiver) -> None:
    server, channel = receiver
    server.answers.append((200, {}, 3))
    began = time.perf_counter()
    outcome = post_webhook(channel, {"n": 1}, "slow", timeout=1.0)
    assert outcome.status == "retry" and time.perf_counter() - began < 2.0
