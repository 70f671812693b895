"""The customer data a business hands kvar, as one bundle of frames (any kind kvar accepts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kvar.metrics.activity import defining_table


@dataclass
class CustomerTables:
    """A business's tables; absent ones are ``None``."""

    transactions: Any = None
    subscriptions: Any = None
    events: Any = None
    feedback: Any = None
    payments: Any = None
    customers: Any = None

    def activity(self) -> dict[str, Any]:
        """The table that defines activity (:func:`~kvar.metrics.activity.defining_table`), as the keyword
        ``retention_table``, ``customer_lifetimes`` and ``activity_source`` take."""
        kind = defining_table(self.transactions is not None, self.subscriptions is not None)
        return {kind: getattr(self, kind)}

    def observed_until(self) -> dt.datetime:
        """The end of the last observed day of the table that defines activity, where every metric's
        ``as_of`` defaults to (:func:`kvar.metrics.calendar.observation`)."""
        from kvar.metrics.calendar import SUBSCRIPTION_OBSERVED, observation
        from kvar.metrics.frames import table_of

        ((kind, table),) = self.activity().items()
        facts, _ = table_of(table, kind, [])
        return observation(facts, SUBSCRIPTION_OBSERVED if kind == "subscriptions" else ("occurred_at",))[1]
