"""Fixtures shared by the flows tests: a real SMTP server and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_delivery import Inbox, free_port, receiver  # noqa: F401 - the HTTP receiver, for the worker tests too


@pytest.fixture()
def mail_server() -> Iterator[tuple[Inbox, int]]:
    """An aiosmtpd server on a free port of 127.0.0.1 keeping every message it gets: ``(inbox, port)``."""
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()
