"""E-mail messages of a flow, and one attempt to hand one to an SMTP server.

* **Idempotency.** A message's ``Message-ID`` is derived from its idempotency key (flow, step, customer,
  occurrence): the same message, sent again after a crash, carries the same id, so a receiver (or the
  outbox) can drop the copy.
* **Unsubscribe.** Marketing messages carry ``List-Unsubscribe`` (RFC 2369) and, when the channel has an
  https ``unsubscribe_url``, ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), with the
  customer's token in the URL. Transactional messages (receipts, dunning) carry neither.
* **Outcomes.** ``delivered`` (the server took it), ``retry`` (a 4xx reply or no connection: try again
  later), ``bounced`` (a 5xx reply to the recipient or the message: a hard bounce, to be suppressed).
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import quote, urlsplit

from kvar.flows.spec import Channel
from kvar.i18n import tr


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to: ``delivered``, ``retry``, ``bounced``, ``failed`` or ``disabled``;
    ``detail`` in words; ``retry_after`` in seconds when the receiver asked for a delay."""

    status: str
    detail: str = ""
    retry_after: float | None = None


def message_id(key: str, sender: str) -> str:
    """The ``Message-ID`` of the message with idempotency ``key``, in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kvar.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def build_email(
    channel: Channel,
    *,
    to: str,
    subject: str,
    html: str,
    text: str,
    key: str,
    marketing: bool,
    unsubscribe_token: str = "",
) -> EmailMessage:
    """A multipart (plain text and HTML) message from the channel's sender to ``to``."""
    sender = channel.settings["from"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(key, sender)
    if marketing:
        address = parseaddr(sender)[1]
        links = [f"<mailto:{address}?subject={quote('unsubscribe ' + unsubscribe_token)}>"]
        url = channel.settings.get("unsubscribe_url")
        if url:
            joiner = "&" if "?" in url else "?"
            links.insert(0, f"<{url}{joiner}token={quote(unsubscribe_token)}>")
            if url.startswith("https://"):
                message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["List-Unsubscribe"] = ", ".join(links)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send_email(channel: Channel, message: EmailMessage, *, timeout: float = 30.0) -> Outcome:
    """One attempt to hand ``message`` to the channel's server (``smtps://`` is TLS from the start;
    ``smtp://`` upgrades with STARTTLS when the server offers it); credentials from the environment variables
    the channel names."""
    url = urlsplit(channel.settings["smtp_url"])
    host, secure = url.hostname or "localhost", url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    try:
        server: smtplib.SMTP = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            if secure
            else smtplib.SMTP(host, port, timeout=timeout)
        )
        with server:
            server.ehlo()
            if not secure and server.has_extn("starttls"):
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            user, password = (
                os.environ.get(channel.settings.get(name, "")) for name in ("username_env", "password_env")
            )
            if user and password:
                server.login(user, password)
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        ((code, reply),) = error.recipients.values()
        return _by_code(code, reply)
    except smtplib.SMTPResponseException as error:
        return _by_code(error.smtp_code, error.smtp_error)
    except (smtplib.SMTPException, OSError, socket.timeout) as error:
        return Outcome("retry", tr("no answer from {host}:{port}: {error}").format(host=host, port=port, error=error))
    return Outcome("delivered")


def _by_code(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    if 500 <= code < 600:
        return Outcome("bounced", f"{code} {text}")
    return Outcome("retry", f"{code} {text}")
