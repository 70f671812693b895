"""Who must not get a message: the suppression list, checked when a message is sent (not only when decided).

One row per customer and channel (``*``: every channel) with its reason (and, apart, the channels disabled
because their webhook answered 410 Gone, until ``kvar flows enable CHANNEL``):

* ``unsubscribed``: blocks marketing messages only; receipts and dunning (transactional flows) still go;
* ``hard_bounce`` (added by the worker on a 5xx refusal), ``complaint``, ``manual``, ``erased``: block every
  message on that channel.

The list lives in a small SQLite file beside the workspace (``shop.duckdb`` → ``shop.suppressions.sqlite``), so
that the worker's threads can write to it while the DuckDB workspace is open for reading.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any

from kvar.errors import ParameterError
from kvar.i18n import tr

_OPEN = threading.local()
REASONS = ("unsubscribed", "hard_bounce", "complaint", "manual", "erased")
ALL_CHANNELS = "*"


def suppressions_path(workspace: Path) -> Path:
    """The suppression list of a workspace: an SQLite file beside it."""
    return workspace.with_suffix(".suppressions.sqlite")


class Suppressions:
    """The suppression list in ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection to the file (kept open: the worker checks the list for every message)."""
        opened: dict[str, sqlite3.Connection] = _OPEN.__dict__.setdefault("connections", {})
        key = str(self.path.resolve())
        if key in opened and Path(key).exists():
            return opened[key]
        connection = sqlite3.connect(self.path, timeout=30)
        opened[key] = connection
        connection.execute(
            "CREATE TABLE IF NOT EXISTS suppressions (customer_id TEXT NOT NULL, channel TEXT NOT NULL, "
            "reason TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY (customer_id, channel))"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS disabled_channels (channel TEXT PRIMARY KEY, reason TEXT NOT NULL, "
            "disabled_at TEXT NOT NULL)"
        )
        return connection

    def add(self, customer_id: str, reason: str, channel: str = ALL_CHANNELS) -> None:
        """Suppress ``customer_id`` on ``channel`` for ``reason`` (a second add keeps the first reason)."""
        if reason not in REASONS:
            raise ParameterError(
                tr("--reason: expected one of {reasons}, got {reason!r}").format(
                    reasons=", ".join(REASONS), reason=reason
                )
            )
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        with self._connect() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO suppressions VALUES (?, ?, ?, ?)", (customer_id, channel, reason, now)
            )

    def remove(self, customer_id: str, channel: str = ALL_CHANNELS) -> int:
        """Lift the suppression of ``customer_id`` on ``channel``; how many rows were removed."""
        with self._connect() as connection:
            cursor = connection.execute(
                "DELETE FROM suppressions WHERE customer_id = ? AND channel = ?", (customer_id, channel)
            )
            return cursor.rowcount

    def rows(self) -> list[dict[str, Any]]:
        """Every suppression, by customer and channel."""
        with self._connect() as connection:
            found = connection.execute(
                "SELECT customer_id, channel, reason, added_at FROM suppressions ORDER BY customer_id, channel"
            ).fetchall()
        return [dict(zip(("customer_id", "channel", "reason", "added_at"), row, strict=True)) for row in found]

    def disable_channel(self, channel: str, reason: str) -> None:
        """Stop sending on ``channel`` (its webhook answered 410 Gone) until :meth:`enable_channel`."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        with self._connect() as connection:
            connection.execute("INSERT OR IGNORE INTO disabled_channels VALUES (?, ?, ?)", (channel, reason, now))

    def enable_channel(self, channel: str) -> bool:
        """Send on ``channel`` again; whether it was disabled."""
        with self._connect() as connection:
            return connection.execute("DELETE FROM disabled_channels WHERE channel = ?", (channel,)).rowcount > 0

    def channel_disabled(self, channel: str) -> str | None:
        """Why ``channel`` is disabled, or ``None``."""
        with self._connect() as connection:
            found = connection.execute("SELECT reason FROM disabled_channels WHERE channel = ?", (channel,)).fetchone()
        return found[0] if found else None

    def blocks(self, customer_id: str, channel: str, *, marketing: bool) -> str | None:
        """The reason a message to ``customer_id`` on ``channel`` must not go, or ``None``."""
        with self._connect() as connection:
            reasons = [
                reason
                for (reason,) in connection.execute(
                    "SELECT reason FROM suppressions WHERE customer_id = ? AND channel IN (?, ?) ORDER BY reason",
                    (customer_id, channel, ALL_CHANNELS),
                )
            ]
        stopping = [reason for reason in reasons if marketing or reason != "unsubscribed"]
        return stopping[0] if stopping else None
